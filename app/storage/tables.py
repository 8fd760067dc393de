"""The database tables. Changing them needs a new Alembic revision in migrations/versions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Index, Integer, String, Text
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
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
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
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
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
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    environment: Mapped[dict[str, Any] | None] = mapped_column(JSON)
