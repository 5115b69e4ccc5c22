"""`make demo`: the whole story on a fresh data folder, against a local Slack stand-in.

    python -m slackapp.demo [--home var/demo] [--llm]

Sets up a fresh WARDEN_HOME (var/demo), ingests the policies, loads the sample cases, starts
the real app in HTTP mode (uvicorn on loopback) against `slackapp.standin`, then plays the
chapters of `slackapp.demo.story` as specialists and approvers would in Slack, signing every
request as Slack does, and prints what they would see. No-LLM mode unless --llm (and
OPENAI_BASE_URL) is given.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from slackapp.demo import story
from slackapp.demo.world import (
    ANA,
    APPROVER_GROUP,
    BEN,
    CHIDI,
    ONCALL_GROUP,
    OWNER,
    PEOPLE,
    ROOT,
    Transcript,
    World,
    name_of,
    route_channels,
)


def run(home: Path, *, llm: bool = False) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    from agent.backend import ToolsBackend
    from agent.service import build_warden
    from knowledge.catalogue import load_catalogue
    from knowledge.index import ingest
    from slackapp.app import build_app
    from slackapp.demo.integrations import Integrations
    from slackapp.driver import SlackDriver
    from slackapp.http import start_in_thread, with_api
    from slackapp.standin import StandIn
    from tools import gates as gates_module
    from tools.cases import load_sample
    from tools.gateway import build_gateway
    from tools.store import build_store
    from warden.settings import Settings

    began = time.monotonic()
    # A fresh folder every run: the demo is safe to run twice and never touches var/ itself.
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    secret = secrets.token_hex(16)
    with StandIn(
        users={k: name_of(k) for k in PEOPLE},
        usergroups={APPROVER_GROUP: [ANA, BEN, CHIDI], ONCALL_GROUP: [OWNER]},
        group_handles={APPROVER_GROUP: "enforcement-leads", ONCALL_GROUP: "ts-oncall"},
    ) as standin:
        overrides: dict[str, Any] = {
            "WARDEN_HOME": home,
            "WARDEN_DATABASE_URL": None,
            "WARDEN_CHROMA_URL": None,
            "WARDEN_EMBEDDINGS_URL": None,
            "SLACK_BOT_TOKEN": "xoxb-demo-local",
            "SLACK_SIGNING_SECRET": secret,
            "SLACK_API_URL": standin.url,
            "WARDEN_APPROVERS": [ANA, BEN, CHIDI],
            "WARDEN_APPROVER_USERGROUP": APPROVER_GROUP,
        }
        if not llm:
            overrides["OPENAI_BASE_URL"] = None
        settings = Settings(**overrides)
        catalogue = load_catalogue(settings.catalogue_dir)
        # The workspace has a channel for every route the catalogue names (Warden is in each).
        standin.channels.update(route_channels(catalogue))
        # In the demo the same three specialists work every pod's queue (catalogue reviewers).
        groups = {g for p in catalogue.policies.values() for g in p.reviewers}
        settings = settings.model_copy(
            update={"reviewer_groups": {g: [ANA, BEN, CHIDI] for g in sorted(groups)}}
        )
        print(
            f"Warden demo · data folder {home} · {'LLM' if settings.llm_enabled else 'no-LLM'} mode"
        )
        from knowledge.embeddings import build_embedder
        from knowledge.retrieval import build_retriever

        embedder = build_embedder(settings)  # loaded once, shared by ingest and retrieval
        report = ingest(settings.policies_dirs, settings=settings, embedder=embedder)
        print(f"  policies indexed: {report}")
        store = build_store(settings)
        sample = load_sample(store, catalogue)
        print(
            f"  sample loaded: {sample.cases} cases, {sample.accounts} accounts, "
            f"{sample.clusters} detector clusters"
        )
        # The real gates, as `warden serve` loads them: HA stays in shadow mode until a stored
        # evaluation passes (step 4 of the story runs one).
        gates = gates_module.load_gates(settings.gates_file)
        backend = ToolsBackend(
            store, catalogue, gateway=build_gateway(settings, store.engine), gates=gates
        )
        warden = build_warden(
            settings,
            store=store,
            catalogue=catalogue,
            gates=gates,
            backend=backend,
            retriever=build_retriever(settings, embedder=embedder),
        )
        slack = build_app(settings, warden=warden, store=store)
        # The HTTP API on the app's own port, as `warden serve --http` mounts it (issue 17).
        integrations = Integrations(slack, warden, store, catalogue, gates)
        server = start_in_thread(with_api(slack.asgi(), integrations.api))
        integrations.base_url = f"http://127.0.0.1:{server.port}"
        driver = SlackDriver(
            server.endpoint, secret, response_url_base=standin.url.replace("/api/", "/respond/")
        )
        print(f"  app: HTTP mode on {server.endpoint} · Slack Web API stand-in on {standin.url}")
        print(f"  set-up took {time.monotonic() - began:.0f} s")
        t = Transcript(standin)
        t.channel_names.update({cid: f"#{name}" for name, cid in standin.channels.items()})
        t.seen = len(standin.calls)
        world = World(
            t=t,
            driver=driver,
            slack=slack,
            standin=standin,
            settings=settings,
            store=store,
            catalogue=catalogue,
            gates=gates,
            notes={"integrations": integrations},
        )
        try:
            story.play(world)
        finally:
            # What Slack received, one call a line, for checks after the run.
            calls = standin.dump_calls(home / "slack-calls.jsonl")
            print(f"\n  {calls} Slack Web API calls written to {home / 'slack-calls.jsonl'}")
            integrations.close()
            driver.close()
            server.stop()
            slack.drain(60)
            slack.close()
            warden.close()
            store.close()
    print(f"\nDemo finished in {time.monotonic() - began:.0f} s. Data folder: {home}")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description="Play Warden's story against a local Slack.")
    parser.add_argument("--home", type=Path, default=ROOT / "var" / "demo")
    parser.add_argument("--llm", action="store_true", help="use OPENAI_BASE_URL if it is set")
    args = parser.parse_args()
    sys.exit(run(args.home.resolve(), llm=args.llm))


if __name__ == "__main__":
    main()
