"""The probe-run queue, shared by every server process through the database.

Runs execute one at a time across all processes: claiming the next queued run is a
single conditional UPDATE ("only if nothing is running"), serialised by a transaction
advisory lock on PostgreSQL and by SQLite's single writer. Each running run carries
its owner (host, pid, process start time) and a heartbeat, so a run whose process died
is marked `interrupted` rather than left `running`.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from typing import Any

import psutil
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session, sessionmaker

from app.storage.identifiers import is_well_formed, new_id
from app.storage.tables import ProbeRunRow

# A running run whose heartbeat is older than this is taken as dead.
STALE_AFTER = dt.timedelta(seconds=60)
CLAIM_LOCK_KEY = 7_314_159  # any constant shared by all processes
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


def store_imported(sessions: sessionmaker[Session], document: dict[str, Any]) -> ProbeRunRow:
    """Store a document produced elsewhere by `advisor probe --output`."""
    settings = document["settings"]
    row = ProbeRunRow(
        id=new_id(), status=document["status"], source="imported", mode=settings["mode"],
        models=settings["models"], frameworks=settings["frameworks"], created_at=_now(),
        started_at=dt.datetime.fromisoformat(document["started_at"]),
        finished_at=dt.datetime.fromisoformat(document["finished_at"]),
        progress={"total": 1, "done": 1, "current": "imported"}, document=document,
    )
    with sessions.begin() as session:
        session.add(row)
    return row


def get_run(sessions: sessionmaker[Session], run_id: str) -> ProbeRunRow | None:
    if not is_well_formed(run_id):
        return None
    with sessions() as session:
        return session.get(ProbeRunRow, run_id)


def recent_runs(sessions: sessionmaker[Session], limit: int = 20) -> list[ProbeRunRow]:
    with sessions() as session:
        query = select(ProbeRunRow).order_by(ProbeRunRow.created_at.desc()).limit(limit)
        return list(session.scalars(query))


def queued_ahead(sessions: sessionmaker[Session], row: ProbeRunRow) -> int:
    """Return how many runs will execute before this queued one (including a running one)."""
    with sessions() as session:
        query = select(ProbeRunRow.id).where(
            (ProbeRunRow.status == "running")
            | ((ProbeRunRow.status == "queued") & (ProbeRunRow.created_at < row.created_at)))
        return len(session.scalars(query).all())


def count_queued(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return len(session.scalars(select(ProbeRunRow.id).where(ProbeRunRow.status == "queued"))
                   .all())


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
