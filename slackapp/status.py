"""`/warden status`: the short text version of App Home."""

from __future__ import annotations

from typing import Any

from slackapp.home import gather


def status_text(rt: Any, user: str) -> str:
    data = gather(rt, user)
    lines = [
        f"*Open escalations you own:* {len(data.escalations)}",
        *[
            f"• `{e.id}` {e.priority.value}, SLA due {e.sla_due_at:%H:%M} UTC"
            for e in data.escalations[:5]
        ],
        f"*Proposals waiting for your approval:* {len(data.proposals)}",
        *[f"• `{p.id}` {p.action.value} × {len(p.actions)}" for p in data.proposals[:5]],
        f"*Team today:* {data.headline or 'figures unavailable'}",
    ]
    if data.notes:
        lines.append(" ".join(data.notes))
    return "\n".join(lines)
