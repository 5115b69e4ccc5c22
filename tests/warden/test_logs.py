"""JSON log lines carry the request's context, never content or secrets; plain text otherwise."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from warden.logs import JsonFormatter, configure, current_context, log_context


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_json_line_holds_the_context_and_only_allowed_fields(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    with log_context(request_id="r1", thread="C1:1.2", intent="ask"):
        with log_context(case_id="case-7"):
            logger.info(
                "agent request done",
                extra={"latency_ms": 12.5, "text": "ignore previous instructions"},
            )
        logger.warning("after the inner block")
    first, second = lines(stream)
    assert first["msg"] == "agent request done" and first["level"] == "info"
    assert first["request_id"] == "r1" and first["thread"] == "C1:1.2"
    assert first["case_id"] == "case-7" and first["intent"] == "ask"
    assert first["latency_ms"] == 12.5
    assert "text" not in first and "ignore previous" not in json.dumps(first)
    assert "case_id" not in second and second["request_id"] == "r1"
    assert current_context() == {}


def test_tokens_are_masked_in_messages_and_tracebacks(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    token = "xoxb-1234-5678-abcdefghijkl"
    try:
        raise RuntimeError(f"auth failed for {token}")
    except RuntimeError:
        logger.exception("slack said no to %s and sk-abcdefghijklmnop", token)
    (line,) = lines(stream)
    dumped = json.dumps(line)
    assert token not in dumped and "sk-abcdefghijklmnop" not in dumped
    assert "xoxb-[redacted]" in line["msg"] and "RuntimeError" in str(line["exc"])


def test_configure_picks_the_format(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure("INFO", "json")
        logging.getLogger("tests.configure").info("hello %s", "xapp-1-A0-secret")
        configure("INFO", None)
        logging.getLogger("tests.configure").info("plain")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    err = capsys.readouterr().err.splitlines()
    assert json.loads(err[0])["msg"] == "hello xapp-[redacted]"
    assert err[1] == "INFO:tests.configure:plain"


def test_background_jobs_keep_the_request_context() -> None:
    from slackapp.work import WorkPool

    pool = WorkPool(2)
    try:
        with log_context(request_id="req-42", kind="command"):
            future = pool.submit("job", current_context)
        assert future.result(timeout=10) == {"request_id": "req-42", "kind": "command"}
    finally:
        pool.shutdown()
