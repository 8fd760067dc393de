"""The server's own probe agent: the same job loop as `advisor agent` (app.agent.loop),
in a daemon thread of the server process, taking its jobs from the database directly."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.agent.fingerprint import fingerprint
from app.agent.loop import Executor, Job, JobSettings, run_job, serve_jobs
from app.storage import agents, probe_runs

log = logging.getLogger("advisor.probes")
SEEN_EVERY_S = 15.0  # how often an idle server agent records that it is alive


class DatabaseJobQueue:
    """A JobQueue on the shared database, for an agent living inside a server process."""

    def __init__(self, sessions: sessionmaker[Session], claimant: probe_runs.Claimant,
                 policy: probe_runs.LeasePolicy, stop: threading.Event, poll_s: float = 1.0):
        self.sessions = sessions
        self.claimant = claimant
        self.policy = policy
        self.stop = stop
        self.poll_s = poll_s
        self._last_seen = 0.0

    def claim(self, wait_s: float) -> Job | None:
        if time.monotonic() - self._last_seen >= SEEN_EVERY_S:
            self._last_seen = time.monotonic()
            agents.seen(self.sessions, self.claimant.name)
        row = probe_runs.claim(self.sessions, self.claimant, self.policy)
        if row is None:
            self.stop.wait(min(wait_s, self.poll_s))
            return None
        return job_of(row)

    def heartbeat(self, job: Job, progress: dict[str, Any] | None) -> bool:
        return probe_runs.heartbeat(self.sessions, job.id, self.claimant.name, job.lease_id,
                                    progress, self.policy.lease_s)

    def finish(self, job: Job, status: str, document: dict[str, Any] | None,
               error: str | None) -> bool:
        return probe_runs.finish(self.sessions, job.id, self.claimant.name, job.lease_id, status,
                                 document, error)


def job_of(row: Any) -> Job:
    return Job(id=row.id, lease_id=row.lease_id, models=list(row.models),
               frameworks=list(row.frameworks), mode=row.mode)


class ProbeWorker:
    """The server's agent in a daemon thread; stop() cancels a run in progress."""

    def __init__(self, sessions: sessionmaker[Session], timeout_s: float, *,
                 name: str = "server", labels: tuple[str, ...] = (),
                 policy: probe_runs.LeasePolicy | None = None,
                 poll_s: float = 1.0, heartbeat_s: float = 5.0,
                 executor: Executor | None = None):
        self.sessions = sessions
        self.name = name
        self.labels = tuple(labels)
        self.policy = policy or probe_runs.LeasePolicy(lease_s=60.0, max_attempts=3)
        self.settings = JobSettings(timeout_s=timeout_s, heartbeat_s=heartbeat_s)
        self._stop = threading.Event()
        claimant = probe_runs.Claimant(name, self.labels, probe_runs.this_process())
        self.queue = DatabaseJobQueue(sessions, claimant, self.policy, self._stop, poll_s)
        self._executor = executor
        self._thread = threading.Thread(target=self._loop, name="probe-worker", daemon=True)

    def start(self) -> None:
        agents.ensure_builtin(self.sessions, self.name, list(self.labels))
        agents.seen(self.sessions, self.name, fingerprint())
        probe_runs.release_expired(self.sessions, self.policy.max_attempts)
        self._thread.start()

    def run_one(self) -> str | None:
        """Claim and run one job in this thread; return its id, or None when none was queued."""
        job = self.queue.claim(0)
        if job is None:
            return None
        run_job(self.queue, job, self.settings, self._stop, self._executor)
        return job.id

    def stop(self, wait_s: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(wait_s)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                serve_jobs(self.queue, self._stop, self.settings, wait_s=self.queue.poll_s,
                           executor=self._executor)
            except Exception:  # noqa: BLE001 - keep serving; the error is logged, not lost
                log.exception("probe worker iteration failed")
                self._stop.wait(self.queue.poll_s)
