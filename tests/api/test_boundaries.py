"""The API package imports neither Slack nor an LLM library (the Slack app passes in the card
poster); tools/ stays free of both too."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import sys
import api.app, api.auth, api.idempotency, tools.detectors, tools.outbox, tools.webhook_receiver
banned = {"langchain", "langchain_core", "langchain_openai", "openai", "langgraph",
          "slack_bolt", "slack_sdk", "slackapp", "agent"}
print(sorted({name.split(".")[0] for name in sys.modules} & banned))
"""


def test_api_and_outbox_load_no_slack_and_no_llm_library() -> None:
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
