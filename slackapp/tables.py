"""The Slack app's own tables (migration tools/migrations/versions/0004_slack.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tools.db import Base


class SlackEventRow(Base):
    """One row per Slack event id: the first delivery inserts it, retries find it there."""

    __tablename__ = "slack_events"

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SlackPostRow(Base):
    """Where Warden posted a card for a proposal or escalation (for updates and reminders)."""

    __tablename__ = "slack_posts"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    ref_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    channel: Mapped[str] = mapped_column(String(64))
    ts: Mapped[str] = mapped_column(String(32))
    thread_id: Mapped[str] = mapped_column(String(160))
    payload: Mapped[str | None] = mapped_column(Text, nullable=True)
