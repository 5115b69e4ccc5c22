"""With an LLM configured, the harness goes through the agent's structured-output path."""

from __future__ import annotations

from typing import Any

from ops.evaluate import agent_recommender, evaluate, save_run
from ops.loaders import EVAL_OPENED_AT, LabelledCase
from tests.fakes.openai_server import OpenAIStandIn, Reply
from tools.models import Case, ContentItem
from tools.store import Store
from warden.settings import Settings


def labelled(i: int, text: str, policy: str | None) -> LabelledCase:
    case = Case(
        id=f"llm-{i}",
        opened_at=EVAL_OPENED_AT,
        items=[ContentItem(id=f"llm-{i}-c", author_id="eval", text=text)],
    )
    return LabelledCase(
        case=case, positives=frozenset({policy} if policy else set()), known=None, line=i
    )


def test_llm_mode_eval(
    sqlite_ops_store: Store, policy_retriever: Any, policy_settings: Any
) -> None:
    rows = [
        labelled(1, "Those people are rats and vermin infesting our towns.", "HA"),
        labelled(2, "Lovely sunset over the lake this evening.", None),
    ]
    with OpenAIStandIn() as server:
        server.enqueue(
            Reply(
                json_body={
                    "policy_id": "HA",
                    "section_ids": ["HA-2.1"],
                    "verdict": "violating",
                    "action": "remove",
                    "confidence": 0.9,
                    "rationale": "Dehumanising comparison [HA-2.1].",
                    "escalate": False,
                }
            ),
            Reply(
                json_body={
                    "policy_id": None,
                    "section_ids": [],
                    "verdict": "not_violating",
                    "action": None,
                    "confidence": 0.8,
                    "rationale": "Scenery, nothing violating.",
                    "escalate": False,
                }
            ),
        )
        settings = Settings(
            WARDEN_HOME=policy_settings.home,
            WARDEN_POLICIES_DIRS=policy_settings.policies_dirs,
            OPENAI_BASE_URL=server.base_url,
            OPENAI_API_KEY="sk-test",
            WARDEN_LLM_MODEL="stand-in-1",
            WARDEN_LLM_MAX_RETRIES=0,
        )
        recommend, mode, model = agent_recommender(settings, sqlite_ops_store)
        run = evaluate(
            rows, recommend, dataset="llm.jsonl", mapping="warden", mode=mode, model=model
        )
        assert len(server.requests) == 2
        # The content reaches the model only inside the agent's untrusted-data envelope.
        assert "<<<UNTRUSTED-" in server.requests[0]["messages"][-1]["content"]
    assert (mode, model) == ("llm", "stand-in-1")
    ha = run.metrics.policy("HA")
    assert (ha.tp, ha.fp, ha.fn, ha.tn) == (1, 0, 0, 1)
    assert run.metrics.outcomes == {"violating": 1, "not_violating": 1}
    save_run(sqlite_ops_store, run)
