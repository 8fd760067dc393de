"""The probe-run queue, shared by every server process and every agent through the database.

A run is a job for one machine: `machine` routes it to an agent by name, or to any agent
carrying all of some labels. An agent claims a job with a lease; heartbeats extend the
lease, and an expired lease puts the job back in the queue, or marks it `interrupted`
once it has been tried `max_attempts` times. Claims are atomic: on PostgreSQL the chosen
row is taken with `SELECT ... FOR UPDATE SKIP LOCKED` (and one agent's claims are
serialised by an advisory lock, since an agent measures its machine one job at a time);
on SQLite a conditional UPDATE ("only if still queued and this agent runs nothing")
decides. Every heartbeat and result must present the claim's random `lease_id`, so a job
never runs on two agents at once: an agent that lost its lease can no longer touch it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import socket
from dataclasses import dataclass
from typing import Any

import psutil
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session, sessionmaker

from app.storage.identifiers import is_well_formed, new_id
from app.storage.tables import AgentRow, ProbeRunRow, utc_moment

log = logging.getLogger("advisor.storage")

ADMIT_LOCK_KEY = 7_314_160  # serialises queue admission on PostgreSQL
ACTIVE = ("queued", "running")
FINISHED = ("succeeded", "partial", "failed", "interrupted")
# How many queued jobs one claim looks at to find one routed to the claiming agent.
CLAIM_SCAN = 100


@dataclass(frozen=True)
class Claimant:
    """Who asks for work: an agent's name and labels, and the process (for the log)."""

    name: str
    labels: tuple[str, ...]
    owner: str


@dataclass(frozen=True)
class LeasePolicy:
    lease_s: float
    max_attempts: int


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
    if owner.count("|") != 2:
        return None  # a remote agent: only its lease tells whether it lives
    host, pid, started = owner.rsplit("|", 2)
    if host != socket.gethostname():
        return None
    try:
        return f"{psutil.Process(int(pid)).create_time():.3f}" == started
    except (psutil.NoSuchProcess, ValueError):
        return False


def enqueue(sessions: sessionmaker[Session], *, models: list[str], frameworks: list[str],
            mode: str, machine: dict[str, Any] | None = None) -> ProbeRunRow:
    """Queue a job; `machine` is {"name": agent} or {"labels": [...]}."""
    row = ProbeRunRow(id=new_id(), status="queued", source="local", mode=mode, models=models,
                      frameworks=frameworks, created_at=_now(), machine=machine, attempts=0,
                      attempt_log=[], progress={"total": 0, "done": 0, "current": "queued"})
    with sessions.begin() as session:
        session.add(row)
    return row


def enqueue_if_room(sessions: sessionmaker[Session], limit: int, *, models: list[str],
                    frameworks: list[str], mode: str, machine: dict[str, Any] | None = None
                    ) -> ProbeRunRow | None:
    """Queue a run only if fewer than `limit` are queued; None when the queue is full.

    Count and insert happen under one lock (a transaction advisory lock on PostgreSQL,
    SQLite's write lock taken up front by BEGIN IMMEDIATE), so concurrent requests can
    never together pass the limit."""
    row = ProbeRunRow(id=new_id(), status="queued", source="local", mode=mode, models=models,
                      frameworks=frameworks, created_at=_now(), machine=machine, attempts=0,
                      attempt_log=[], progress={"total": 0, "done": 0, "current": "queued"})
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
    """Return how many runs routed the same way will execute before this queued one
    (including a running one)."""
    with sessions() as session:
        query = select(ProbeRunRow.machine).where(
            (ProbeRunRow.status == "running")
            | ((ProbeRunRow.status == "queued") & (ProbeRunRow.created_at < row.created_at)))
        return sum(1 for machine in session.scalars(query) if machine == row.machine)


def count_queued(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(ProbeRunRow)
                              .where(ProbeRunRow.status == "queued"))


def latest_successful_id(sessions: sessionmaker[Session]) -> str | None:
    """Return the id of the newest finished run made by this server's own agent that produced
    numbers (succeeded or partial); only the id, since the document itself is immutable and
    cached by id. Runs from other machines are used only when a report names them."""
    builtin = select(AgentRow.name).where(AgentRow.builtin.is_(True))
    with sessions() as session:
        query = (select(ProbeRunRow.id)
                 .where(ProbeRunRow.source == "local",
                        ProbeRunRow.status.in_(("succeeded", "partial")),
                        ProbeRunRow.agent_name.is_(None) | ProbeRunRow.agent_name.in_(builtin))
                 .order_by(ProbeRunRow.finished_at.desc()).limit(1))
        return session.scalars(query).first()


def _aware(moment: dt.datetime) -> dt.datetime:
    # SQLite returns naive datetimes even for timezone=True columns; they were stored as UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def routed_to(machine: dict[str, Any] | None, name: str, labels: tuple[str, ...] | list[str]
              ) -> bool:
    """Return whether a job routed by `machine` may run on the agent `name` with `labels`."""
    if not machine:
        return True
    if "name" in machine:
        return machine["name"] == name
    return set(machine.get("labels", ())) <= set(labels)


def release_expired(sessions: sessionmaker[Session], max_attempts: int) -> int:
    """Requeue running jobs whose lease expired (or whose owner on this host died); a job
    tried max_attempts times is marked interrupted instead. Returns how many were released."""
    now = _now()
    with sessions() as session:
        running = session.execute(
            select(ProbeRunRow.id, ProbeRunRow.lease_id, ProbeRunRow.lease_expires_at,
                   ProbeRunRow.owner).where(ProbeRunRow.status == "running")).all()
    # Only rows found dead are locked: live ones are left to their heartbeats.
    dead = {run_id: lease_id for run_id, lease_id, expires, owner in running
            if expires is None or _aware(expires) <= now or _owner_alive(owner) is False}
    count = 0
    for run_id, lease_id in dead.items():
        with sessions.begin() as session:
            query = select(ProbeRunRow).where(ProbeRunRow.id == run_id,
                                              ProbeRunRow.status == "running")
            if session.bind.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            row = session.scalars(query).first()
            if row is None or row.lease_id != lease_id:
                continue  # finished, released or re-leased meanwhile
            _release(row, now, max_attempts)
            count += 1
    return count


def _release(row: ProbeRunRow, now: dt.datetime, max_attempts: int) -> None:
    log = [dict(entry) for entry in (row.attempt_log or [])]
    if log and log[-1].get("ended_at") is None:
        log[-1].update(ended_at=now.isoformat(), outcome="lease expired")
    row.attempt_log = log
    row.lease_id = None
    row.lease_expires_at = None
    if (row.attempts or 0) >= max_attempts:
        row.status = "interrupted"
        row.finished_at = now
        row.error = (f"the machine running this probe run stopped before it finished "
                     f"({row.attempts} attempt(s), the limit)")
    else:
        row.status = "queued"
        row.agent_name = None
        row.owner = None
        row.progress = {"total": 0, "done": 0,
                        "current": f"queued again after attempt {row.attempts}"}


def _lock_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:7], "big")


def claim(sessions: sessionmaker[Session], claimant: Claimant, policy: LeasePolicy
          ) -> ProbeRunRow | None:
    """Atomically lease the oldest queued job routed to this agent, unless it already runs one."""
    release_expired(sessions, policy.max_attempts)
    now = _now()
    lease_id = new_id()[:32]
    with sessions.begin() as session:
        postgres = session.bind.dialect.name == "postgresql"
        if postgres:  # one agent, one job at a time, even with several processes claiming for it
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                            {"key": _lock_key(claimant.name)})
        busy = select(ProbeRunRow.id).where(ProbeRunRow.status == "running",
                                            ProbeRunRow.agent_name == claimant.name).exists()
        if session.scalar(select(busy)):
            return None
        queued = session.execute(
            select(ProbeRunRow.id, ProbeRunRow.machine).where(ProbeRunRow.status == "queued")
            .order_by(ProbeRunRow.created_at, ProbeRunRow.id).limit(CLAIM_SCAN)).all()
        candidates = [run_id for run_id, machine in queued
                      if routed_to(machine, claimant.name, claimant.labels)]
        for run_id in candidates:
            if postgres:
                locked = session.scalar(
                    select(ProbeRunRow.id).where(ProbeRunRow.id == run_id,
                                                 ProbeRunRow.status == "queued")
                    .with_for_update(skip_locked=True))
                if locked is None:
                    continue  # another agent is taking it right now
            taken = session.execute(
                update(ProbeRunRow)
                .where(ProbeRunRow.id == run_id, ProbeRunRow.status == "queued", ~busy)
                .values(status="running", started_at=now, heartbeat_at=now,
                        owner=claimant.owner, agent_name=claimant.name, lease_id=lease_id,
                        lease_expires_at=now + dt.timedelta(seconds=policy.lease_s),
                        attempts=func.coalesce(ProbeRunRow.attempts, 0) + 1,
                        progress={"total": 0, "done": 0, "current": "starting"})
                .execution_options(synchronize_session=False))
            if taken.rowcount == 1:
                row = session.get(ProbeRunRow, run_id)
                session.refresh(row)
                row.attempt_log = [*(row.attempt_log or []),
                                   {"agent": claimant.name, "attempt": row.attempts,
                                    "started_at": now.isoformat(), "ended_at": None,
                                    "outcome": None}]
                break
        else:
            return None
    return get_run(sessions, run_id)


def heartbeat(sessions: sessionmaker[Session], run_id: str, agent_name: str, lease_id: str,
              progress: dict[str, Any] | None, lease_s: float) -> bool:
    """Extend the lease and record progress; False when the lease is no longer held."""
    now = _now()
    values: dict[str, Any] = {"heartbeat_at": now,
                              "lease_expires_at": now + dt.timedelta(seconds=lease_s)}
    if progress is not None:
        values["progress"] = progress
    with sessions.begin() as session:
        result = session.execute(
            update(ProbeRunRow).where(ProbeRunRow.id == run_id, ProbeRunRow.status == "running",
                                      ProbeRunRow.agent_name == agent_name,
                                      ProbeRunRow.lease_id == lease_id,
                                      ProbeRunRow.lease_expires_at > now)
            .values(**values).execution_options(synchronize_session=False))
        return result.rowcount == 1


def finish(sessions: sessionmaker[Session], run_id: str, agent_name: str, lease_id: str,
           status: str,
           document: dict[str, Any] | None, error: str | None = None,
           environment: dict[str, Any] | None = None) -> bool:
    """Store a job's outcome; False (and nothing stored) when the lease is no longer held."""
    now = _now()
    with sessions.begin() as session:
        query = select(ProbeRunRow).where(ProbeRunRow.id == run_id,
                                          ProbeRunRow.status == "running",
                                          ProbeRunRow.agent_name == agent_name,
                                          ProbeRunRow.lease_id == lease_id)
        if session.bind.dialect.name == "postgresql":
            query = query.with_for_update()
        row = session.scalars(query).first()
        if row is None or (row.lease_expires_at is not None
                           and _aware(row.lease_expires_at) <= now):
            return False
        log = [dict(entry) for entry in (row.attempt_log or [])]
        if log:
            log[-1].update(ended_at=now.isoformat(), outcome=status)
        row.attempt_log = log
        row.status = status
        row.finished_at = now
        row.document = document
        row.error = error
        row.lease_id = None
        row.lease_expires_at = None
        if environment is not None:
            row.machine_environment = environment
        elif document is not None:
            row.machine_environment = document.get("environment")
        if row.progress:
            row.progress = {**row.progress, "current": "finished"}
        return True


def runs_of_agent(sessions: sessionmaker[Session], name: str, limit: int = 50
                  ) -> list[ProbeRunRow]:
    """Return the runs an agent ran or runs now, newest first."""
    with sessions() as session:
        query = (select(ProbeRunRow).where(ProbeRunRow.agent_name == name)
                 .order_by(ProbeRunRow.created_at.desc()).limit(limit))
        return list(session.scalars(query))


def busy_agents(sessions: sessionmaker[Session]) -> set[str]:
    with sessions() as session:
        return set(session.scalars(select(ProbeRunRow.agent_name)
                                   .where(ProbeRunRow.status == "running")))
