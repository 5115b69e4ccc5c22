"""An LLM answer streams end to end: a mention through the real Bolt app reaches the real
`Warden.handle(..., on_token=...)`, whose scripted model streams its structured reply token by
token; Slack's chat streaming (chat.startStream / appendStream / stopStream) shows only the
answer's prose as it comes, then the cited answer replaces it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk

from tests.fakes.chat import ScriptedChatModel
from tests.slackapp.conftest import CHANNEL, REQUESTER, Harness


class StreamingScriptedModel(ScriptedChatModel):
    """The scripted model, streaming each reply a few characters at a time (as an OpenAI
    endpoint streams a json_schema reply)."""

    piece: int = 4

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        reply = self._next(messages)
        text = str(reply.content)
        for i in range(0, len(text), self.piece):
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=text[i : i + self.piece]))
            if run_manager is not None:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk
        yield ChatGenerationChunk(
            message=AIMessageChunk(content="", usage_metadata=reply.usage_metadata)
        )


@pytest.fixture
def real_warden(
    harness: Harness, policy_retriever: Any, catalogue: Any, tmp_path: Path
) -> Iterator[tuple[Any, StreamingScriptedModel]]:
    from agent.checkpoint import sqlite_checkpoints
    from agent.graph import build_graph
    from agent.llm import model_name
    from agent.service import Warden
    from tools.gateway import LocalPlatform

    model = StreamingScriptedModel()
    checkpoints = sqlite_checkpoints(str(tmp_path / "checkpoints.sqlite"))
    graph = build_graph(
        model=model,
        retriever=policy_retriever,
        catalogue=catalogue,
        checkpointer=checkpoints.saver,
        store=harness.store,
        gateway=LocalPlatform(harness.store.engine),
    )
    warden = Warden(graph, model_name=model_name(model))
    harness.app.runtime.warden = warden
    try:
        yield warden, model
    finally:
        checkpoints.close()


def test_a_mention_streams_the_models_answer_through_slack_chat_streaming(
    harness: Harness, real_warden: tuple[Any, StreamingScriptedModel]
) -> None:
    from slackapp.standin import stream_text

    h = harness
    _, model = real_warden
    prose = (
        "Yes. Comparing a group of people to rats is a dehumanising comparison, which the "
        'policy names as "vermin" language <!channel> [HA-2.1].'
    )
    model.enqueue({"answer": prose, "cited_section_ids": ["HA-2.1"], "grounded": True})
    _, ts = h.driver.mention(
        "is a meme comparing a group to rats hateful?", user=REQUESTER, channel=CHANNEL
    )
    h.settle()
    assert model.remaining == 0, "the agent made the scripted calls"

    (start,) = h.standin.calls_to("chat.startStream")
    assert start.args["channel"] == CHANNEL and start.args["thread_ts"] == ts
    appends = h.standin.calls_to("chat.appendStream")
    assert len(appends) >= 5, "the answer arrives in many pieces, as the model writes it"
    streamed = stream_text(start.args) + "".join(stream_text(c.args) for c in appends)
    # Only the answer's prose is shown while it streams: no JSON, and escaped like blocks.
    assert "dehumanising comparison" in streamed and '"vermin"' in streamed
    assert "cited_section_ids" not in streamed and "{" not in streamed
    assert "<!channel>" not in streamed
    (stop,) = h.standin.calls_to("chat.stopStream")
    # The streamed message is then replaced by the validated, cited answer.
    updates = [c for c in h.standin.calls_to("chat.update") if c.args.get("ts") == stop.args["ts"]]
    assert updates, "the streamed message was replaced by the final answer"
    final = h.standin.messages[(CHANNEL, str(stop.args["ts"]))]
    assert final["thread_ts"] == ts
    blocks = json.dumps(final["blocks"])
    assert "HA-2.1" in blocks and "dehumanising" in blocks and "<!channel>" not in blocks
    assert "context_actions" in blocks  # feedback buttons on the answer
    # One reply in the thread: the stream became the answer, nothing was posted twice.
    replies = [m for m in h.messages() if m.get("thread_ts") == ts and m.get("bot_id")]
    assert len(replies) == 1
