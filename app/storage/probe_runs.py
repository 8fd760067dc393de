"""The probe-run queue, shared by every server process through the database.

Runs execute one at a time across all processes: claiming the next queued run is a
single conditional UPDATE ("only if nothing is running"), serialised by a transaction
advisory lock on PostgreSQL and by SQLite's single writer. Each running run carries
its owner (host, pid, process start time) and a heartbeat, so a run whose process died
is marked `interrupted` rather than left `running`.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from typing import Any

import psutil
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session, sessionmaker

from app.storage.identifiers import is_well_formed, new_id
from app.storage.tables import ProbeRunRow, utc_moment

log = logging.getLogger("advisor.storage")

# A running run whose heartbeat is older than this is taken as dead.
STALE_AFTER = dt.timedelta(seconds=60)
CLAIM_LOCK_KEY = 7_314_159  # any constant shared by all processes
ADMIT_LOCK_KEY = 7_314_160  # serialises queue admission on PostgreSQL
ACTIVE = ("queued", "running")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def this_process() -> str:
    """Return an owner string that also tells a reused pid apart (process start time)."""
    me = psutil.Process()
    return f"{socket.gethostname()}|{os.getpid()}|{me.create_time():.3f}"


def _owner_alive(owner: str | None) -> bool | None:
    """True/False for an owner on this host; None when it lives on another host."""
    if not owner:
        return False
    host, pid, started = owner.rsplit("|", 2)
    if host != socket.gethostname():
        return None
    try:
        return f"{psutil.Process(int(pid)).create_time():.3f}" == started
    except (psutil.NoSuchProcess, ValueError):
        return False


def enqueue(sessions: sessionmaker[Session], *, models: list[str], frameworks: list[str],
            mode: str) -> ProbeRunRow:
    row = ProbeRunRow(id=new_id(), status="queued", source="local", mode=mode, models=models,
                      frameworks=frameworks, created_at=_now(),
                      progress={"total": 0, "done": 0, "current": "queued"})
    with sessions.begin() as session:
        session.add(row)
    return row


def enqueue_if_room(sessions: sessionmaker[Session], limit: int, *, models: list[str],
                    frameworks: list[str], mode: str) -> ProbeRunRow | None:
    """Queue a run only if fewer than `limit` are queued; None when the queue is full.

    Count and insert happen under one lock (a transaction advisory lock on PostgreSQL,
    SQLite's write lock taken up front by BEGIN IMMEDIATE), so concurrent requests can
    never together pass the limit."""
    row = ProbeRunRow(id=new_id(), status="queued", source="local", mode=mode, models=models,
                      frameworks=frameworks, created_at=_now(),
                      progress={"total": 0, "done": 0, "current": "queued"})
    with sessions() as session:
        dialect = session.get_bind().dialect.name
        if dialect == "sqlite":
            session.execute(text("BEGIN IMMEDIATE"))
        elif dialect == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADMIT_LOCK_KEY})
        queued = session.scalar(select(func.count()).select_from(ProbeRunRow)
                                .where(ProbeRunRow.status == "queued"))
        if queued >= limit:
            session.rollback()
            return None
        session.add(row)
        session.commit()
    return row


def imported_moment(document: dict[str, Any], field: str) -> dt.datetime:
    """Return a document's timestamp in UTC; OutOfRange naming the field when it has no
    offset or lies outside the storable range."""
    return utc_moment(dt.datetime.fromisoformat(document[field]), field)


def store_imported(sessions: sessionmaker[Session], document: dict[str, Any]) -> ProbeRunRow:
    """Store a document produced elsewhere by `advisor probe --output` (timestamps in UTC)."""
    settings = document["settings"]
    row = ProbeRunRow(
        id=new_id(), status=document["status"], source="imported", mode=settings["mode"],
        models=settings["models"], frameworks=settings["frameworks"], created_at=_now(),
        started_at=imported_moment(document, "started_at"),
        finished_at=imported_moment(document, "finished_at"),
        progress={"total": 1, "done": 1, "current": "imported"}, document=document,
    )
    with sessions.begin() as session:
        session.add(row)
    return row


def get_run(sessions: sessionmaker[Session], run_id: str) -> ProbeRunRow | None:
    """Return the run, or None for unknown, malformed and unreadable ids alike (the last
    are logged)."""
    if not is_well_formed(run_id):
        return None
    with sessions() as session:
        try:
            return session.get(ProbeRunRow, run_id)
        except (ValueError, OverflowError, DataError):
            log.exception("probe run %s cannot be read", run_id)
            return None


def recent_runs(sessions: sessionmaker[Session], limit: int = 20) -> list[ProbeRunRow]:
    """Return the newest runs; a row the driver cannot read (a timestamp out of Python's
    range written by an older version, say) is left out and logged, never fatal."""
    with sessions() as session:
        ids = list(session.scalars(select(ProbeRunRow.id)
                                   .order_by(ProbeRunRow.created_at.desc()).limit(limit)))
        try:
            rows = {row.id: row for row in session.scalars(
                select(ProbeRunRow).where(ProbeRunRow.id.in_(ids)))}
        except Exception:  # noqa: BLE001 - driver and parse errors alike; read one by one
            session.rollback()
            rows = {}
            for run_id in ids:
                try:
                    rows[run_id] = session.get(ProbeRunRow, run_id)
                except Exception:  # noqa: BLE001
                    log.exception("probe run %s cannot be read; left out of the list", run_id)
                    session.rollback()
        return [rows[run_id] for run_id in ids if rows.get(run_id) is not None]


def queued_ahead(sessions: sessionmaker[Session], row: ProbeRunRow) -> int:
    """Return how many runs will execute before this queued one (including a running one)."""
    with sessions() as session:
        query = select(ProbeRunRow.id).where(
            (ProbeRunRow.status == "running")
            | ((ProbeRunRow.status == "queued") & (ProbeRunRow.created_at < row.created_at)))
        return len(session.scalars(query).all())


def count_queued(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(ProbeRunRow)
                              .where(ProbeRunRow.status == "queued"))


def latest_successful_id(sessions: sessionmaker[Session]) -> str | None:
    """Return the id of the newest finished local run that produced numbers (succeeded or
    partial); only the id, since the document itself is immutable and cached by id."""
    with sessions() as session:
        query = (select(ProbeRunRow.id)
                 .where(ProbeRunRow.source == "local",
                        ProbeRunRow.status.in_(("succeeded", "partial")))
                 .order_by(ProbeRunRow.finished_at.desc()).limit(1))
        return session.scalars(query).first()


def mark_dead_runs_interrupted(sessions: sessionmaker[Session]) -> int:
    """Mark running runs whose owner died (or whose heartbeat went stale) as interrupted."""
    with sessions.begin() as session:
        running = session.scalars(select(ProbeRunRow).where(ProbeRunRow.status == "running"))
        count = 0
        for row in running:
            alive = _owner_alive(row.owner)
            stale = row.heartbeat_at is None or _aware(row.heartbeat_at) < _now() - STALE_AFTER
            if alive is False or (alive is None and stale):
                row.status = "interrupted"
                row.finished_at = _now()
                row.error = "the server running this probe run stopped before it finished"
                count += 1
        return count


def _aware(moment: dt.datetime) -> dt.datetime:
    # SQLite returns naive datetimes even for timezone=True columns; they were stored as UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def claim_next(sessions: sessionmaker[Session], owner: str) -> ProbeRunRow | None:
    """Atomically take the oldest queued run if no run is running anywhere; else None."""
    now = _now()
    with sessions.begin() as session:
        if session.bind.dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CLAIM_LOCK_KEY})
        oldest = (select(ProbeRunRow.id).where(ProbeRunRow.status == "queued")
                  .order_by(ProbeRunRow.created_at, ProbeRunRow.id).limit(1).scalar_subquery())
        nothing_running = ~select(ProbeRunRow.id).where(ProbeRunRow.status == "running").exists()
        claimed = session.execute(
            update(ProbeRunRow)
            .where(ProbeRunRow.id == oldest, nothing_running)
            .values(status="running", started_at=now, heartbeat_at=now, owner=owner,
                    progress={"total": 0, "done": 0, "current": "starting"})
            .returning(ProbeRunRow.id)
            .execution_options(synchronize_session=False)
        ).scalar_one_or_none()
    return get_run(sessions, claimed) if claimed else None


def record_progress(sessions: sessionmaker[Session], run_id: str, progress: dict[str, Any]
                    ) -> None:
    with sessions.begin() as session:
        session.execute(update(ProbeRunRow).where(ProbeRunRow.id == run_id,
                                                  ProbeRunRow.status == "running")
                        .values(progress=progress, heartbeat_at=_now()))


def finish(sessions: sessionmaker[Session], run_id: str, status: str,
           document: dict[str, Any] | None, error: str | None = None) -> None:
    with sessions.begin() as session:
        row = session.get(ProbeRunRow, run_id)
        if row is None:
            return
        row.status = status
        row.finished_at = _now()
        row.document = document
        row.error = error
        if row.progress:
            row.progress = {**row.progress, "current": "finished"}
