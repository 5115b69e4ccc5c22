"""The start-up peer: a bare Bolt app under uvicorn that only answers Slack's URL check.

    python -m bench.bare_bolt --port N --api-url URL --secret S

Same framework, server and Web API stand-in as `warden serve --http`, none of Warden's work
(store, retriever, embedding model), so the ratio shows what Warden adds to start-up.
"""

from __future__ import annotations

import argparse


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--secret", required=True)
    args = parser.parse_args()
    import uvicorn
    from slack_bolt import App
    from slack_bolt.adapter.asgi import SlackRequestHandler
    from slack_sdk import WebClient

    client = WebClient(token="xoxb-bench-bare", base_url=args.api_url)
    app = App(signing_secret=args.secret, client=client)
    uvicorn.run(
        SlackRequestHandler(app),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        lifespan="off",
    )


if __name__ == "__main__":
    main()
