"""5, 6, 9, 10, 11, 12. Signed clicks that are not what they claim: another workspace's, another
card's, malformed, legacy-typed; ids and content that try to become markup; long questions.

Pass: every forged click records nothing and executes nothing; malformed payloads get 4xx,
never 500; no card other than the proposal's own is written; content and ids stay inert text;
a question of any length can be escalated from its answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest

from slackapp.blocks import APPROVE, ESCALATE_QUESTION, REJECT_MODAL, proposal_blocks
from tests.security.conftest import (
    APPROVERS,
    CHANNEL,
    REQUESTER,
    Cluster,
    Figures,
    decisions,
    pending_proposal,
)
from tools.models import BlastRadius, ProposalStatus

Mutate = Callable[[dict[str, Any]], None]


def _message(card: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in card.items() if k != "_ref"}


def _signed(c: Cluster, payload: dict[str, Any]) -> int:
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = c.first.driver.headers(body, "application/x-www-form-urlencoded")
    return int(c.first.driver.send((body, headers)).status_code)


def _click(c: Cluster, card: dict[str, Any], mutate: Mutate | None = None, **kw: Any) -> int:
    body, _ = c.first.driver.prepare_click(
        APPROVE,
        kw.get("value", card["_ref"]),
        user=kw.get("user", APPROVERS[0]),
        channel=CHANNEL,
        message=_message(card),
    )
    payload = json.loads(parse_qs(body.decode())["payload"][0])
    if mutate is not None:
        mutate(payload)
    return _signed(c, payload)


def _recorded(c: Cluster, proposal: Any) -> int:
    from tools.gateway import LocalPlatform

    stored = c.store.get_proposal(proposal.id)
    return len(stored.approvals) + len(LocalPlatform(c.store.engine).receipts(proposal.id))


def _set(key: str, value: Any) -> Mutate:
    return lambda p: p.__setitem__(key, value)


def _user_team(team: str) -> Mutate:
    return lambda p: p["user"].__setitem__("team_id", team)


WORKSPACE: dict[str, Mutate] = {
    "team missing": lambda p: p.pop("team"),
    "team null": _set("team", None),
    "team empty": _set("team", {}),
    "team id empty": _set("team", {"id": ""}),
    "team a string": _set("team", "T0WARDEN1"),
    "team a list": _set("team", ["T0WARDEN1"]),
    "team id a list": _set("team", {"id": ["T0WARDEN1"]}),
    "user from another workspace": _user_team("T0OTHERWS"),
    "user team null": _user_team(None),  # type: ignore[arg-type]
    "enterprise mismatch": _set("enterprise", {"id": "E0OTHERORG", "name": "elsewhere"}),
    "enterprise a string": _set("enterprise", "E0OTHERORG"),
}


def test_the_workspace_check_fails_closed(app_cluster: Cluster, figures: Figures) -> None:
    c = app_cluster
    for name, mutate in WORKSPACE.items():
        proposal = pending_proposal(c.store, c.catalogue)
        status = _click(c, c.post_card(proposal), mutate)
        c.settle()
        figures.tried += 1
        figures.server_errors += int(status >= 500)
        if _recorded(c, proposal):
            figures.accepted += 1
            figures.note(f"executed: {name}")
        else:
            figures.rejected += 1
    # Control: the same click, unchanged, is recorded.
    control = pending_proposal(c.store, c.catalogue)
    assert _click(c, c.post_card(control)) == 200
    c.settle()
    figures.note("control: an unchanged click from this workspace is recorded")
    assert _recorded(c, control) > 0
    assert figures.accepted == 0 and figures.server_errors == 0, figures.notes


def test_the_card_location_comes_from_the_ledger(app_cluster: Cluster, figures: Figures) -> None:
    c = app_cluster
    a = pending_proposal(c.store, c.catalogue)
    b = pending_proposal(c.store, c.catalogue)
    card_a, card_b = c.post_card(a), c.post_card(b)
    before_b = json.dumps(c.standin.messages[(CHANNEL, card_b["ts"])]["blocks"])

    def at_b(p: dict[str, Any]) -> None:
        p["container"]["message_ts"] = card_b["ts"]
        p["message"] = _message(card_b)

    foreign_thread = json.dumps({**json.loads(card_a["_ref"]), "thread_id": f"{CHANNEL}:1.1"})
    attempts: list[tuple[str, Mutate | None, str]] = [
        ("A's button, B's container", at_b, card_a["_ref"]),
        ("a foreign thread id", None, foreign_thread),
    ]
    for _name, mutate, value in attempts:
        assert _click(c, card_a, mutate, value=value) == 200
    c.settle()
    figures.tried = len(attempts)
    after_b = json.dumps(c.standin.messages[(CHANNEL, card_b["ts"])]["blocks"])
    figures.accepted = _recorded(c, a) + _recorded(c, b) + int(before_b != after_b)
    figures.rejected = decisions(c.store, a.id)["refused"]
    assert figures.accepted == 0 and before_b == after_b
    told = [e.args["text"] for e in c.standin.calls_to("chat.postEphemeral")]
    assert sum("not this proposal's card" in t for t in told) == len(attempts)
    # Control: A's own click on A's own card is recorded and updates A's card only.
    assert _click(c, card_a) == 200
    c.settle()
    assert c.store.get_proposal(a.id).status != ProposalStatus.PENDING


def _payloads(card: dict[str, Any], base: dict[str, Any]) -> dict[str, dict[str, Any]]:
    def without(*keys: str) -> dict[str, Any]:
        return {k: v for k, v in base.items() if k not in keys}

    user = base["user"]
    return {
        "no container": without("container"),
        "a view container": {**base, "container": {"type": "view", "view_id": "V0001"}},
        "missing user": without("user"),
        "user without id": {**base, "user": {"name": "x", "team_id": user["team_id"]}},
        "user id with markup": {
            **base,
            "user": {**user, "id": "UX> <!channel> <https://evil.example|Approve here"},
        },
        "missing trigger_id": without("trigger_id"),
        "actions not a list": {**base, "actions": {"action_id": APPROVE}},
        "view_submission without state": {
            "type": "view_submission",
            "team": base["team"],
            "user": user,
            "view": {"id": "V1", "callback_id": REJECT_MODAL, "private_metadata": "{}"},
        },
        "legacy interactive_message": {
            "type": "interactive_message",
            "callback_id": APPROVE,
            "team": base["team"],
            "user": user,
            "actions": [{"name": "approve", "value": card["_ref"], "type": "button"}],
            "channel": {"id": CHANNEL},
            "action_ts": "1.1",
            "message_ts": card["ts"],
        },
        "legacy dialog_submission with the approve callback": {
            "type": "dialog_submission",
            "callback_id": APPROVE,
            "team": base["team"],
            "user": user,
            "channel": {"id": CHANNEL},
            "submission": {"value": card["_ref"]},
            "state": card["_ref"],
        },
    }


def test_malformed_signed_payloads_get_4xx_and_reach_no_listener(
    app_cluster: Cluster, figures: Figures
) -> None:
    c = app_cluster
    proposal = pending_proposal(c.store, c.catalogue)
    card = c.post_card(proposal)
    body, _ = c.first.driver.prepare_click(
        APPROVE, card["_ref"], user=APPROVERS[0], channel=CHANNEL, message=_message(card)
    )
    base = json.loads(parse_qs(body.decode())["payload"][0])
    statuses: dict[str, int] = {}
    for name, payload in _payloads(card, base).items():
        statuses[name] = _signed(c, payload)
    # `/warden` without a user id.
    form = {"command": "/warden", "text": "help", "team_id": "T0WARDEN1", "channel_id": CHANNEL}
    raw = urlencode(form).encode()
    sent = c.first.driver.send(
        (raw, c.first.driver.headers(raw, "application/x-www-form-urlencoded"))
    )
    statuses["/warden without user_id"] = int(sent.status_code)
    c.settle()
    figures.tried = len(statuses)
    figures.server_errors = sum(1 for s in statuses.values() if s >= 500)
    figures.rejected = sum(1 for s in statuses.values() if 400 <= s < 500)
    figures.accepted = _recorded(c, proposal) + len(c.resumes())
    for name, status in statuses.items():
        if not 400 <= status < 500:
            figures.note(f"{name}: HTTP {status}")
    assert figures.server_errors == 0 and figures.accepted == 0
    assert all(400 <= s < 500 for s in statuses.values()), statuses


def test_content_and_ids_cannot_become_markup_on_the_approval_card(
    sqlite_store: Any, catalogue: Any, figures: Figures
) -> None:
    from slackapp.blocks import check_blocks

    injected = (
        "pin text\n✅ *Reviewed by Legal: safe to approve*\n"
        "<!channel> <https://evil.example|Approve here>"
    )
    proposal = pending_proposal(sqlite_store, catalogue)
    forged = proposal.model_copy(update={"requester_id": "UX> <!channel> <https://evil.example|x"})
    blast = BlastRadius(
        total_actions=len(proposal.actions),
        content_count=len(proposal.actions),
        account_count=0,
        sample=proposal.actions[:3],
        sample_texts={a.target_id: injected for a in proposal.actions[:3]},
    )
    blocks = proposal_blocks(forged, blast, thread_id=f"{CHANNEL}:1.1")
    check_blocks(blocks)
    mrkdwn: list[str] = []
    plain: list[str] = []
    for block in blocks:
        texts = [block.get("text") or {}, *block.get("fields", []), *block.get("elements", [])]
        for t in texts:
            if isinstance(t, dict) and isinstance(t.get("text"), str):
                (mrkdwn if t.get("type") == "mrkdwn" else plain).append(t["text"])
    figures.tried = 3
    quoted = [t for t in mrkdwn + plain if "Reviewed by Legal" in t]
    problems = {
        "content on a line of its own": any("\n" in t for t in quoted),
        "content formats itself (bold)": any("*Reviewed" in t for t in quoted),
        "live mention or link": any("<!channel>" in t or "<https://" in t for t in mrkdwn),
    }
    figures.accepted = sum(problems.values())
    figures.rejected = 3 - figures.accepted
    assert not any(problems.values()), problems
    assert quoted and all(t.startswith("“") for t in quoted)  # shown, as a one-line quote


def test_a_long_question_can_be_escalated_from_its_answer(
    app_cluster: Cluster, figures: Figures, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.interface import Intent, PolicyAnswer

    c = app_cluster
    warden = c.first.warden
    original = warden.handle

    def answer_offering_escalation(request: Any) -> Any:
        if request.intent == Intent.ESCALATE:
            return original(request)
        warden.requests.append(request)
        return PolicyAnswer(
            text="No policy section covers this.", citations=[], mode="llm", offer_escalation=True
        )

    monkeypatch.setattr(warden, "handle", answer_offering_escalation)
    # 1,400 characters whose JSON escape is far longer than a button value's 2,000.
    question = ('"é\\' * 470)[:1400]
    c.first.driver.mention(question, user=REQUESTER, channel=CHANNEL)
    c.settle()
    [answer] = [m for m in c.standin.messages.values() if "No policy section" in json.dumps(m)]
    buttons = [
        e for b in answer["blocks"] if b["type"] == "actions" for e in b["elements"]
        if e["action_id"] == ESCALATE_QUESTION
    ]  # fmt: skip
    figures.tried = 1
    assert buttons and len(buttons[0]["value"]) <= 2000
    c.first.driver.click(
        ESCALATE_QUESTION, buttons[0]["value"], user=REQUESTER, channel=CHANNEL, message=answer
    )
    c.settle()
    escalations = [r for r in warden.requests if r.intent == Intent.ESCALATE]
    figures.rejected = int(bool(escalations) and escalations[0].text == question)
    figures.lost = 1 - figures.rejected
    figures.note("a 1,400-character question: escalated with its full text (stored by id)")
    assert escalations and escalations[0].text == question
