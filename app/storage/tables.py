"""The database tables. Changing them needs a new Alembic revision in migrations/versions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Dialect, Index, String, Text, TypeDecorator
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

    __table_args__ = (Index("ix_probe_runs_status_created", "status", "created_at"),)
