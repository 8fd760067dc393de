"""The database tables. Changing them needs a new Alembic revision in migrations/versions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Index, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class ReportRow(Base):
    """An immutable snapshot: everything needed to render the report as it was made."""

    __tablename__ = "reports"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    title: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Question and option labels as they were, so a later questionnaire change
    # cannot alter how an old report reads.
    answer_labels: Mapped[list[Any]] = mapped_column(JSON)
    recommendation: Mapped[dict[str, Any]] = mapped_column(JSON)
    rules_version: Mapped[str] = mapped_column(String(64))
    probe_run_id: Mapped[str | None] = mapped_column(String(32))
    delete_token_hash: Mapped[str] = mapped_column(String(64))
    # True while the cited probe run is still queued or running: the snapshot is
    # completed once, when the run finishes, and is immutable from then on.
    pending_probe_run: Mapped[bool] = mapped_column(Boolean, default=False)


class ProbeRunRow(Base):
    __tablename__ = "probe_runs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))  # "local" or "imported"
    mode: Mapped[str] = mapped_column(String(16))
    models: Mapped[list[str]] = mapped_column(JSON)
    frameworks: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    owner: Mapped[str | None] = mapped_column(String(200))
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    document: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_probe_runs_status_created", "status", "created_at"),)
