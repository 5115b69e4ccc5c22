"""Profile `warden serve --http`'s start-up sequence in a fresh interpreter; print JSON.

    python -m bench.startup_profile   (environment as for `warden serve`)

The same steps as slackapp.cli's `serve` up to the ASGI app (settings, store, Warden, Bolt
app), then the first query embedding, which `warden serve` defers to the first question.
"""

from __future__ import annotations

import json
import time


def main() -> None:
    from pyinstrument import Profiler

    phases: dict[str, float] = {}
    profiler = Profiler(interval=0.002)
    profiler.start()
    started = time.perf_counter()
    cpu = time.process_time()

    def mark(name: str) -> None:
        nonlocal started, cpu
        phases[f"{name} wall s"] = round(time.perf_counter() - started, 2)
        phases[f"{name} CPU s"] = round(time.process_time() - cpu, 2)
        started, cpu = time.perf_counter(), time.process_time()

    from agent.service import build_warden
    from slackapp.app import build_app
    from tools.store import build_store
    from warden.settings import get_settings

    mark("imports")
    settings = get_settings()
    store = build_store(settings)
    mark("store (migrations)")
    warden = build_warden(settings, store=store)
    mark("build_warden")
    slack = build_app(settings, warden=warden, store=store)
    slack.asgi()
    mark("build_app")
    from knowledge.embeddings import build_embedder

    build_embedder(settings).embed_query("first question after start-up")
    mark("first query embedding (model load)")
    profiler.stop()
    from bench.profiling import summarise

    print(json.dumps({"phases": phases, **summarise(profiler)}))


if __name__ == "__main__":
    main()
