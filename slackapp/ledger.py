"""Slack-side state kept in the store's database, so that every replica agrees on it."""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from slackapp.tables import SlackEventRow, SlackPostRow
from tools.db import make_sessionmaker


@dataclass(frozen=True)
class Post:
    channel: str
    ts: str
    thread_id: str
    payload: str | None = None


class SlackLedger:
    """Event de-duplication and card locations, on the store's engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = make_sessionmaker(engine)
        # SQLite allows one writer; threads that find the file locked sleep in its busy
        # handler with growing back-off, which turned a burst of 200 events into seconds of
        # ack latency. Queuing this process's writers on a lock keeps each wait short.
        self._write_lock: AbstractContextManager[object] = (
            threading.Lock() if engine.dialect.name == "sqlite" else nullcontext()
        )

    def first_delivery(self, event_id: str) -> bool:
        """Record `event_id`; True only for the first delivery across every replica.

        The primary key decides: a Slack retry or a Socket Mode redelivery that reaches another
        process loses the INSERT race there, so the event is handled exactly once.
        """
        try:
            with self._write_lock, self._sessions() as session, session.begin():
                session.execute(
                    insert(SlackEventRow).values(event_id=event_id, received_at=datetime.now(UTC))
                )
        except IntegrityError:
            return False
        return True

    def remember_post(self, kind: str, ref_id: str, post: Post) -> None:
        """Record where a card was posted (first post wins; later updates reuse it)."""
        try:
            with self._write_lock, self._sessions() as session, session.begin():
                session.execute(
                    insert(SlackPostRow).values(
                        kind=kind,
                        ref_id=ref_id,
                        channel=post.channel,
                        ts=post.ts,
                        thread_id=post.thread_id,
                        payload=post.payload,
                    )
                )
        except IntegrityError:
            return

    def post(self, kind: str, ref_id: str) -> Post | None:
        with self._sessions() as session:
            row = session.scalars(
                select(SlackPostRow).where(SlackPostRow.kind == kind, SlackPostRow.ref_id == ref_id)
            ).first()
            return Post(row.channel, row.ts, row.thread_id, row.payload) if row else None
