"""Warden's Slack app (Bolt): conversations, Block Kit cards, four-eyes approvals, App Home.

Entry points: `slackapp.app.build_app(settings, *, warden, store)` (returns a `SlackApp`:
`.bolt`, `.asgi()` for HTTP mode, `.runtime`), `warden serve [--http --port N]`
(`slackapp/cli.py`), `python -m slackapp.demo` (`make demo`), `python -m slackapp.loadcheck`.
Local testing: `slackapp.standin.StandIn` (Web API stand-in) and `slackapp.driver.SlackDriver`
(signs and posts requests the way Slack does).
"""
