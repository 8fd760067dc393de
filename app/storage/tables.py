"""The database tables. Changing them needs a new Alembic revision in migrations/versions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Dialect, Index, Integer, String, Text, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Every stored moment lies in this range: a year that PostgreSQL stores but Python cannot
# read (10000) would break every page that lists the row.
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)


class OutOfRange(ValueError):
    """A moment without a timezone, or outside [EARLIEST, LATEST)."""


def utc_moment(moment: dt.datetime, field: str) -> dt.datetime:
    """Return the moment in UTC; OutOfRange (naming the field) if naive or out of range."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise OutOfRange(f"{field}: needs a UTC offset (for example 2026-11-26T04:58:13Z)")
    try:
        moment = moment.astimezone(dt.UTC)
    except OverflowError:
        raise OutOfRange(f"{field}: must lie between {EARLIEST:%Y} and {LATEST:%Y}") from None
    if not EARLIEST <= moment < LATEST:
        raise OutOfRange(f"{field}: must lie between {EARLIEST:%Y} and {LATEST:%Y}")
    return moment


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC moment on every database: written in UTC (and range-checked),
    read back with tzinfo=UTC even where the driver returns naive values (SQLite)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect
                           ) -> dt.datetime | None:
        if value is None:
            return None
        value = utc_moment(value, "timestamp")
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect
                             ) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    pass


class ReportRow(Base):
    """An immutable snapshot: everything needed to render the report as it was made."""

    __tablename__ = "reports"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    title: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
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
    # Every run the report cites (probe_run_id is the one scoring used), and each run's
    # evidence with the machine it came from.
    probe_run_ids: Mapped[list[str] | None] = mapped_column(JSON)
    machine_evidence: Mapped[list[Any] | None] = mapped_column(JSON)


class ProbeRunRow(Base):
    __tablename__ = "probe_runs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))  # "local" or "imported"
    mode: Mapped[str] = mapped_column(String(16))
    models: Mapped[list[str]] = mapped_column(JSON)
    frameworks: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    owner: Mapped[str | None] = mapped_column(String(200))
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    document: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    # Routing: {"name": agent} or {"labels": [...]} (every label must match); null = any agent.
    machine: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The agent holding the lease (while running) or that finished the run.
    agent_name: Mapped[str | None] = mapped_column(String(64))
    # A fresh random id per claim: heartbeats and results must present it, so an agent whose
    # lease expired can no longer touch the run another agent now holds.
    lease_id: Mapped[str | None] = mapped_column(String(32))
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # One entry per claim: {agent, started_at, ended_at, outcome}.
    attempt_log: Mapped[list[Any] | None] = mapped_column(JSON)
    # The environment fingerprint of the machine that ran it (documents carry it too).
    machine_environment: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_probe_runs_status_created", "status", "created_at"),
                      Index("ix_probe_runs_agent_status", "agent_name", "status"))


class AgentRow(Base):
    """A machine that runs probe jobs: remote (`advisor agent`) or the server's own worker."""

    __tablename__ = "agents"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    labels: Mapped[list[str]] = mapped_column(JSON)
    # SHA-256 of the enrollment token; null for the server's own agent, which has no token.
    token_hash: Mapped[str | None] = mapped_column(String(64))
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    environment: Mapped[dict[str, Any] | None] = mapped_column(JSON)
