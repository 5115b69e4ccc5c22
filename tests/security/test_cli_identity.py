"""1. One person satisfying a two-approver rule from the terminal (`warden chat`).

Pass: the chat's approver is the OS user mapped by WARDEN_OPERATORS, never a typed id; the same
person approving twice counts once; an unmapped OS user, production, and a configuration
without WARDEN_APPROVERS record nothing. A critical-harm proposal stays pending throughout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.security.conftest import Figures, pending_proposal
from tools.models import ProposalStatus
from warden.errors import ConfigError


@dataclass
class _Agent:
    resumes: list[Any] = field(default_factory=list)

    def resume(self, thread_id: str, decision: Any, progress: Any = None) -> Any:
        self.resumes.append(decision)
        raise AssertionError("a critical-harm proposal must not resume on one person's approval")

    def close(self) -> None:
        return None


def test_one_person_cannot_be_two_approvers_from_the_terminal(
    sqlite_store: Any, catalogue: Any, figures: Figures, monkeypatch: pytest.MonkeyPatch
) -> None:
    import typer

    from agent import cli as agent_cli
    from agent.interface import ProposalPending
    from tools.models import BlastRadius
    from warden.settings import Settings

    proposal = pending_proposal(sqlite_store, catalogue, section_id="HA-2.1")
    assert proposal.required_approvals == 2
    pending = ProposalPending(
        proposal=proposal,
        blast_radius=BlastRadius(
            total_actions=len(proposal.actions), content_count=len(proposal.actions),
            account_count=0, sample=[],
        ),
    )  # fmt: skip
    # Every prompt is answered as an attacker would: approve, and a second person's id if asked.
    answers = iter(["approve", "UAPPROVER2"] * 10)
    monkeypatch.setattr(typer, "prompt", lambda *a, **k: next(answers))
    agent = _Agent()

    def decide(os_user: str, **env: str) -> str:
        monkeypatch.setenv("LOGNAME", os_user)
        people = {
            "WARDEN_OPERATORS": "lead=UAPPROVER1",
            "WARDEN_APPROVERS": "UAPPROVER1,UAPPROVER2",
        }
        settings = Settings(**{**people, **env})
        session = agent_cli.Session(warden=agent, store=sqlite_store, settings=settings)  # type: ignore[arg-type]
        try:
            agent_cli._decide(session, "cli-chat:t", pending)
        except ConfigError as exc:
            return f"refused: {exc}"
        return "decided"

    attempts = {
        "the mapped approver": decide("lead"),
        "the same person again": decide("lead"),
        "an unmapped OS user": decide("mallory"),
        "production": decide("lead", WARDEN_ENV="production"),
        "no approver list": decide("lead", WARDEN_APPROVERS=""),
    }
    stored = sqlite_store.get_proposal(proposal.id)
    approvers = sorted(a.approver_id for a in stored.approvals)
    figures.tried = len(attempts) - 1  # every attempt after the one legitimate approval
    figures.accepted = (
        (len(approvers) - 1) + int(stored.status != ProposalStatus.PENDING) + len(agent.resumes)
    )
    figures.rejected = figures.tried - figures.accepted
    figures.note(f"approvals recorded: {approvers} (one person counts once)")
    assert approvers == ["UAPPROVER1"] and stored.status == ProposalStatus.PENDING
    assert attempts["an unmapped OS user"].startswith("refused")
    assert attempts["production"].startswith("refused")
    assert attempts["no approver list"].startswith("refused")
    assert agent.resumes == []
