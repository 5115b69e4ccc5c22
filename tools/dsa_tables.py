"""The durable record of what the EU Transparency Database accepted (schema: migration i15a)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tools.db import Base


class DsaSubmissionRow(Base):
    """One statement's standing with the database: accepted (with its uuid) or rejected."""

    __tablename__ = "dsa_submissions"

    # The statement's id, sent as `puid`: the database refuses a second statement with it.
    puid: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    uuid: Mapped[str | None] = mapped_column(String(64))
    # JSON of the field errors of the last refusal (None once accepted).
    errors: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


DSA_TABLES = (DsaSubmissionRow.__table__,)
