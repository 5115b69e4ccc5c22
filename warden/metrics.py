"""The process's Prometheus metrics, defined once; every part records into these.

Labels are closed vocabularies only (request kinds, jobs, model names, outcomes, priorities):
never content, user ids, channel ids or case ids, so a series never identifies a person or a
case and the number of series stays bounded whatever Slack sends. Gauges read from the store
(approvals, escalations, fanout backlog) are collected at scrape time by `tools.metrics`.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)
SLOW = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)

SLACK_REQUESTS = Counter(
    "warden_slack_requests", "Slack requests received (events, commands, interactions)", ["kind"]
)
SLACK_ACKS = Counter(
    "warden_slack_acks",
    "Slack requests acknowledged, by outcome (ok or error)",
    ["kind", "outcome"],
)
SLACK_ACK_SECONDS = Histogram(
    "warden_slack_ack_seconds",
    "Time from a Slack request to its ack (Slack allows 3 s)",
    ["kind"],
    buckets=FAST,
)
SLACK_REFUSED = Counter(
    "warden_slack_refused",
    "Requests refused before reaching Bolt (unsigned, stale, forged or oversized)",
)
AGENT_SECONDS = Histogram(
    "warden_agent_request_seconds",
    "Time the agent took for one request, by intent and outcome",
    ["intent", "outcome"],
    buckets=SLOW,
)
MODEL_CALLS = Counter(
    "warden_model_calls", "Chat model calls, by job, model and outcome", ["job", "model", "outcome"]
)
MODEL_TOKENS = Counter(
    "warden_model_tokens",
    "Chat model tokens, by job, model and direction (prompt, completion)",
    ["job", "model", "direction"],
)
MODEL_SECONDS = Histogram(
    "warden_model_call_seconds",
    "Chat model call latency, by job and model",
    ["job", "model"],
    buckets=SLOW,
)
RETRIEVAL_SECONDS = Histogram(
    "warden_retrieval_seconds",
    "Policy retrieval latency once the query is embedded, by mode (dense, hybrid)",
    ["mode"],
    buckets=FAST,
)
FANOUT_ACTIONS = Counter(
    "warden_fanout_actions",
    "Fanout actions settled by this process (applied or failed)",
    ["outcome"],
)
GATEWAY_ERRORS = Counter(
    "warden_gateway_errors", "Enforcement platform calls that failed, by kind", ["kind"]
)


def exposition(extra: Iterable[Collector] = ()) -> tuple[bytes, str]:
    """The text exposition of the process's metrics plus `extra` collectors (read at scrape)."""
    body = generate_latest(REGISTRY)
    collectors = list(extra)
    if collectors:
        registry = CollectorRegistry(auto_describe=False)
        for collector in collectors:
            registry.register(collector)
        body += generate_latest(registry)
    return body, CONTENT_TYPE_LATEST


def model_label(name: str | None) -> str:
    """A model name as a label: bounded in length (it comes from settings, not from users)."""
    return (name or "none")[:64]
