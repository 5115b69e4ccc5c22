"""`warden ask`, `warden recommend` and `warden chat` (an interactive session, approvals included).

Heavy imports (langchain, langgraph, chromadb, torch) happen inside the commands so that
`warden --help` starts fast.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from agent.interface import WardenResponse
    from agent.service import Warden
    from tools.models import FanoutProgress
    from tools.store import Store
    from warden.settings import Settings

CHAT_HELP = """Commands:
  /ask QUESTION            a policy question (free text works too)
  /recommend CASE_ID       a recommendation on a case
  /escalate CASE_ID [NOTE] open an escalation
  /propose ID [ACTION]     propose an action on a detector cluster (cl-...) or a case
  /pending                 proposals waiting in this session
  /help, /quit"""


@dataclass
class Session:
    """What a CLI command works with: the Warden, the store it uses, and the settings."""

    warden: Warden
    store: Store
    settings: Settings

    def close(self) -> None:
        self.warden.close()
        self.store.close()


def _open(settings: Settings) -> Session:
    """Build every client once for this command (the same factory the Slack app uses)."""
    from agent.service import build_warden
    from tools.store import build_store

    store = build_store(settings)
    warden = build_warden(settings, store=store)
    return Session(warden=warden, store=store, settings=settings)


def _user(settings: Settings) -> str:
    """Who a request comes from: the mapped operator, else the OS user, marked as unmapped."""
    from warden.identity import os_user

    return settings.operators.get(os_user()) or f"cli:{os_user()}"


def render(response: WardenResponse) -> str:
    """Plain-text rendering of any response, as a specialist would read it."""
    from agent.interface import (
        EscalationOpened,
        PolicyAnswer,
        ProposalOutcome,
        ProposalPending,
        Recommendation,
    )

    lines: list[str] = []
    if isinstance(response, PolicyAnswer):
        lines.append(response.text)
        if response.mode == "llm" and response.citations:
            lines.append("")
            lines.extend(
                f"  [{c.section_id}] {c.title} ({c.policy_id} v{c.policy_version})"
                for c in response.citations
            )
    elif isinstance(response, Recommendation):
        action = response.action.value if response.action else "no action"
        lines.append(
            f"Case {response.case_id}: {response.verdict}, {action} "
            f"({response.policy_id or '-'} {', '.join(response.section_ids) or '-'}), "
            f"confidence {response.confidence:.2f}, severity {response.severity or '-'}"
        )
        lines.append(f"Why: {response.rationale}")
        for effect in response.strike_effects:
            crossed = f" -> {effect.threshold_crossed.value}" if effect.threshold_crossed else ""
            lines.append(
                f"Strikes {effect.account_id}: {effect.active_before} -> {effect.active_after} "
                f"in {effect.window_days}d{crossed}"
            )
        lines.extend(f"  [{c.section_id}] {c.excerpt}" for c in response.citations)
        if response.escalate:
            lines.append("Escalation recommended.")
        if response.note:
            lines.append(f"Note: {response.note}")
    elif isinstance(response, EscalationOpened):
        esc = response.escalation
        lines.append(
            f"Escalation {esc.id} opened: {esc.priority.value} to {esc.pod} ({esc.channel})"
            f"{', on-call' if esc.on_call else ''}; SLA due {esc.sla_due_at:%Y-%m-%d %H:%M} UTC."
        )
        lines.append(esc.summary)
    elif isinstance(response, ProposalPending):
        p, radius = response.proposal, response.blast_radius
        lines.append(
            f"Proposal {p.id}: {p.action.value} under {p.policy_id} {', '.join(p.section_ids)} "
            f"— {radius.total_actions} actions ({radius.content_count} items, "
            f"{radius.account_count} accounts); needs {p.required_approvals} approver(s); "
            f"expires {p.expires_at:%Y-%m-%d %H:%M} UTC."
        )
        for planned in radius.sample:
            excerpt = radius.sample_texts.get(planned.target_id, "")
            lines.append(f"  e.g. {planned.target_type} {planned.target_id}: {excerpt[:80]}")
        for effect in radius.accounts_crossing:
            lines.append(
                f"  {effect.account_id} would cross into {effect.threshold_crossed} "
                f"({effect.active_before} -> {effect.active_after} strikes)"
            )
    elif isinstance(response, ProposalOutcome):
        lines.append(
            f"Proposal {response.proposal_id}: {response.status.value}. {response.message}"
        )
    else:
        lines.append(f"Refused: {response.reason}")
    usage = response.usage
    if usage.model_calls:
        lines.append(
            f"(model calls {usage.model_calls}, tokens {usage.prompt_tokens} in / "
            f"{usage.completion_tokens} out)"
        )
    from warden.redact import scrub

    return scrub("\n".join(lines))


def _emit(response: WardenResponse, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(response.model_dump(mode="json"), indent=2))
    else:
        typer.echo(render(response))


def _one_shot(text: str, *, intent: str, case_id: str | None, as_json: bool) -> None:
    from agent.interface import Intent, WardenRequest
    from warden.settings import get_settings

    session = _open(get_settings())
    try:
        request = WardenRequest(
            thread_id=f"cli:{uuid.uuid4().hex[:8]}",
            user_id=_user(session.settings),
            text=text,
            intent=Intent(intent),
            case_id=case_id,
        )
        _emit(session.warden.handle(request), as_json)
    finally:
        session.close()


def _decide(session: Session, thread: str, response: Any) -> None:
    """Record the terminal user's own decision on a pending proposal, then resume if decided.

    The approver is the operator this OS user maps to (WARDEN_OPERATORS), never a typed id; a
    second approver decides from their own terminal or in Slack.
    """
    from agent.interface import Decision
    from tools import proposals
    from warden.errors import ConfigError
    from warden.identity import cli_operator, refuse_cli_approval

    settings = session.settings
    refuse_cli_approval(settings)
    approver = cli_operator(settings)
    allowed = set(settings.approvers)
    if not allowed:
        raise ConfigError(
            "No approvers are configured: set WARDEN_APPROVERS (Slack user ids) to decide "
            "proposals from the command line (an approver group is only read in Slack)."
        )
    proposal = response.proposal
    while True:
        choice = typer.prompt("approve / reject / later", default="later").strip().lower()
        if choice in ("approve", "reject", "later"):
            break
    if choice == "later":
        typer.echo(f"{proposal.id} stays pending (/pending lists it).")
        return
    reason = ""
    if choice == "reject":
        reason = typer.prompt("reason", default="").strip()
        result = proposals.reject(
            session.store, proposal.id, approver, approvers=allowed, reason=reason, source="cli"
        )
    else:
        result = proposals.approve(
            session.store,
            proposal.id,
            approver,
            proposal.action_hash,
            approvers=allowed,
            source="cli",
        )
    typer.echo(result.reason)
    if not result.accepted or result.status.value == "pending":
        return  # refused, or another approver is needed (their terminal or Slack)
    decision = Decision(
        proposal_id=proposal.id,
        decision="approve" if choice == "approve" else "reject",
        decided_by=[approver],
        reason=reason if choice == "reject" else None,
    )

    def progress(update: FanoutProgress) -> None:
        typer.echo(f"  progress: {update.applied}/{update.total} applied, {update.failed} failed")

    typer.echo(render(session.warden.resume(thread, decision, progress=progress)))


def _decide_shown(session: Session, thread: str, response: Any) -> None:
    """`_decide` at the chat boundary: a refusal is shown and the session goes on."""
    from warden.errors import WardenError
    from warden.redact import scrub

    try:
        _decide(session, thread, response)
    except WardenError as exc:
        typer.echo(f"error: {scrub(str(exc))}")


def _parse_chat(line: str, thread: str, user: str) -> Any:
    """Turn a chat line into a WardenRequest (slash commands set the intent)."""
    from agent.interface import Intent, WardenRequest
    from knowledge.vocabulary import ActionType

    if not line.startswith("/"):
        return WardenRequest(thread_id=thread, user_id=user, text=line)
    command, _, rest = line[1:].partition(" ")
    args = rest.split()
    if command == "ask":
        return WardenRequest(thread_id=thread, user_id=user, text=rest, intent=Intent.ASK)
    if command in ("recommend", "escalate") and args:
        return WardenRequest(
            thread_id=thread,
            user_id=user,
            text=" ".join(args[1:]),
            intent=Intent(command),
            case_id=args[0],
        )
    if command == "propose" and args:
        target = args[0]
        try:
            action = ActionType(args[1]) if len(args) > 1 else None
        except ValueError:
            typer.echo(
                f"Unknown action {args[1]!r}; one of {', '.join(a.value for a in ActionType)}"
            )
            return None
        is_cluster = target.startswith("cl-")
        return WardenRequest(
            thread_id=thread,
            user_id=user,
            intent=Intent.PROPOSE,
            cluster_id=target if is_cluster else None,
            case_id=None if is_cluster else target,
            action=action,
        )
    typer.echo(CHAT_HELP)
    return None


def register(app: typer.Typer) -> None:
    @app.command()
    def ask(
        question: str = typer.Argument(..., help="the policy question"),
        as_json: bool = typer.Option(False, "--json", help="print the response as JSON"),
    ) -> None:
        """Answer a policy question with cited policy sections."""
        _one_shot(question, intent="ask", case_id=None, as_json=as_json)

    @app.command()
    def recommend(
        case_id: str = typer.Argument(..., help="a case id in the store (warden cases list)"),
        as_json: bool = typer.Option(False, "--json", help="print the response as JSON"),
    ) -> None:
        """Recommend an enforcement decision on a case (validated against the catalogue)."""
        _one_shot("", intent="recommend", case_id=case_id, as_json=as_json)

    @app.command("eval-answers")
    def eval_answers(
        question_set: Annotated[Path, typer.Argument(help="golden questions (JSONL)")],
        save: bool = typer.Option(True, "--save/--no-save", help="store the run"),
    ) -> None:
        """Golden policy questions through `ask`: citation precision/recall and abstention."""
        from agent import answer_eval
        from agent.interface import Intent, PolicyAnswer, WardenRequest
        from agent.prompts import PROMPT_VERSION
        from warden.settings import get_settings

        golden = answer_eval.load_golden(question_set)
        session = _open(get_settings())
        answers: list[PolicyAnswer] = []
        try:
            for g in golden:
                out = session.warden.handle(
                    WardenRequest(
                        thread_id=f"eval-answers:{uuid.uuid4().hex[:8]}",
                        user_id=_user(session.settings),
                        text=g.question,
                        intent=Intent.ASK,
                    )
                )
                if not isinstance(out, PolicyAnswer):
                    out = PolicyAnswer(text="", citations=[], mode="excerpts", low_confidence=True)
                answers.append(out)
        finally:
            session.close()
        model = session.warden.model_name
        run = answer_eval.score(
            golden, answers, name=question_set.name, prompt=PROMPT_VERSION, model=model
        )
        if session.settings.llm_enabled:
            from dataclasses import replace

            from agent.llm import build_chat_model

            faith = answer_eval.judge(
                build_chat_model(session.settings),
                answers,
                answer_eval.section_texts(session.settings.policies_dirs),
            )
            run = replace(run, faithfulness=faith.score, claims=faith.claims)
        home = session.settings.home
        prev = answer_eval.previous(home, question_set.name)
        if save:
            answer_eval.save(home, run)
        typer.echo(
            f"{run.set}: {run.n} questions, prompt {run.prompt_version}, "
            f"model {run.model or 'none'}"
        )
        fields = ("citation_precision", "citation_recall", "false_answer", "false_abstain")
        for field in (*fields, "faithfulness"):
            value = getattr(run, field)
            before = getattr(prev, field) if prev else None
            delta = (
                f" ({value - before:+.3f} vs {prev.prompt_version} × {prev.model or 'none'})"
                if prev and value is not None and before is not None
                else ""
            )
            typer.echo(f"  {field}: {'n/a' if value is None else f'{value:.3f}'}{delta}")
        if not session.settings.llm_enabled:
            typer.echo("  (faithfulness needs a model endpoint: set OPENAI_BASE_URL)")
        elif run.faithfulness is not None:
            typer.echo(f"  judged claims: {run.claims}")

    @app.command("eval-abstention")
    def eval_abstention(
        choose: bool = typer.Option(False, "--choose", help="also search the best thresholds"),
    ) -> None:
        """False-answer and false-abstain rates of the abstention rule on its labelled set."""
        from agent import abstention
        from agent.deps import Deps
        from knowledge.catalogue import load_catalogue
        from knowledge.retrieval import build_retriever
        from warden.settings import get_settings

        settings = get_settings()
        deps = Deps(
            retriever=build_retriever(settings),
            catalogue=load_catalogue(settings.catalogue_dir),
            backend=None,  # type: ignore[arg-type]  # retrieval only
        )
        rows = abstention.load_set()
        features, mode = abstention.measure(deps, rows)
        two = abstention.RULE
        rules: list[tuple[str, abstention.Decides]] = [
            (f"in use ({mode or 'unknown'} ranking)", abstention.rule_for(mode)),
            (
                f"two thresholds: confidence >= {two.min_confidence:.3f} or lexical agreement"
                f" >= {two.min_overlap:.1f}",
                two,
            ),
            ("old: similarity >= 0.30", abstention.Rule(0.30, 9)),
        ]
        refit = None
        if choose:
            best, _ = abstention.choose(rows, features)
            rules.append(
                (
                    f"two thresholds best on this set: confidence >= {best.min_confidence:.3f}"
                    f" or lexical agreement >= {best.min_overlap:.1f}",
                    best,
                )
            )
            refit = abstention.fit(rows, features, mode) if mode else None
            if refit is not None:
                rules.append((f"learned, fitted on this set ({mode})", refit))
        for name, rule in rules:
            got = abstention.rates(rows, features, rule)
            typer.echo(
                f"{name}: false answers {got.false_answer:.1%} of {got.unanswerable} "
                f"unanswerable, false abstentions {got.false_abstain:.1%} of {got.answerable} "
                "answerable"
            )
        if choose:
            loo = abstention.cross_validated(rows, features)
            typer.echo(
                "two thresholds, chosen leave one out: false answers "
                f"{loo.false_answer:.1%}, false abstentions {loo.false_abstain:.1%}"
            )
            if mode:
                loo = abstention.cross_validated(rows, features, mode)
                typer.echo(
                    f"learned ({mode}), fitted leave one out: false answers "
                    f"{loo.false_answer:.1%}, false abstentions {loo.false_abstain:.1%}"
                )
                typer.echo(f"fitted on the whole set: {refit!r}")

    @app.command()
    def chat(
        thread: str | None = typer.Option(None, help="resume a conversation thread id"),
    ) -> None:
        """An interactive session with the same graph, approvals included (as WARDEN_OPERATORS
        maps you)."""
        from warden.errors import WardenError
        from warden.redact import scrub
        from warden.settings import get_settings

        session = _open(get_settings())
        user = _user(session.settings)
        thread_id = thread or f"cli-chat:{uuid.uuid4().hex[:8]}"
        typer.echo(f"Warden chat (thread {thread_id}). /help for commands, /quit to leave.")
        try:
            while True:
                try:
                    line = input("> ").strip()
                except EOFError:
                    break
                if not line:
                    continue
                if line in ("/quit", "/exit"):
                    break
                if line == "/pending":
                    waiting = session.warden.pending(thread_id)
                    for pending in waiting:
                        typer.echo(render(pending))
                    if waiting and typer.confirm("decide the first one now?", default=False):
                        _decide_shown(session, thread_id, waiting[0])
                    elif not waiting:
                        typer.echo("Nothing is waiting.")
                    continue
                request = _parse_chat(line, thread_id, user)
                if request is None:
                    continue
                try:
                    response = session.warden.handle(request)
                except WardenError as exc:  # the CLI boundary: show it, keep the session
                    typer.echo(f"error: {scrub(str(exc))}")
                    continue
                typer.echo(render(response))
                if response.kind == "proposal":
                    _decide_shown(session, thread_id, response)
        finally:
            session.close()
