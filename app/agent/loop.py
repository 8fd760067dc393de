"""One way to run a probe job, whoever hands it out.

`serve_jobs(queue, ...)` asks a `JobQueue` for work, runs each job with the probe runner,
heartbeats while it runs (which extends the lease and streams progress) and hands back the
document. The server's own worker gives it a queue on the database; `advisor agent` gives
it one over HTTP. When a heartbeat says the lease is gone (it expired and another agent
may hold the job now), the run is cancelled at once, so a job never runs on two machines.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger("advisor.agent")
run_log = logging.getLogger("advisor.probes")  # one line when a run starts and when it ends
# What executes a job: probes.runner.run_probes in production.
Executor = Callable[..., Any]


@dataclass(frozen=True)
class Job:
    id: str
    lease_id: str
    models: list[str]
    frameworks: list[str]
    mode: str


class JobQueue(Protocol):
    def claim(self, wait_s: float) -> Job | None:
        """Return a leased job, waiting up to wait_s for one; None when there is none."""

    def heartbeat(self, job: Job, progress: dict[str, Any] | None) -> bool:
        """Extend the lease; False when it is no longer held."""

    def finish(self, job: Job, status: str, document: dict[str, Any] | None,
               error: str | None) -> bool:
        """Hand back the outcome; False when the lease was lost and nothing was stored."""


@dataclass
class JobSettings:
    timeout_s: float = 900.0  # per framework subprocess
    heartbeat_s: float = 5.0
    progress_every_s: float = 0.5  # the queue needs no more than two updates a second


def _default_executor() -> Executor:
    from probes.runner import run_probes  # imports no framework

    return run_probes


def run_job(queue: JobQueue, job: Job, settings: JobSettings, stop: threading.Event,
            executor: Executor | None = None) -> str:
    """Run one leased job to the end; return what happened (a status, or 'lease lost')."""
    executor = executor or _default_executor()
    latest: dict[str, Any] = {}
    last_sent = [0.0]
    lost = threading.Event()
    cancel = threading.Event()
    lock = threading.Lock()

    def send(progress: dict[str, Any] | None) -> None:
        with lock:
            if not lost.is_set() and not queue.heartbeat(job, progress):
                lost.set()
                cancel.set()

    def on_progress(progress: Any) -> None:
        latest.update(progress.as_dict())
        now = time.monotonic()
        if now - last_sent[0] >= settings.progress_every_s:
            last_sent[0] = now
            send(dict(latest))

    def beat() -> None:
        # Compiling one model can take many seconds without a progress event; a stop
        # request is passed on to the runner within half a second.
        last_beat = time.monotonic()
        while not done.wait(0.5):
            if stop.is_set():
                cancel.set()
            if time.monotonic() - last_beat >= settings.heartbeat_s:
                last_beat = time.monotonic()
                send(dict(latest) or None)

    done = threading.Event()
    beater = threading.Thread(target=beat, name=f"heartbeat-{job.id}", daemon=True)
    beater.start()
    run_log.info("probe run %s started: %s mode, models %s, frameworks %s", job.id, job.mode,
                 ",".join(job.models), ",".join(job.frameworks))
    began = time.monotonic()
    try:
        document = executor(job.models, job.frameworks, job.mode, timeout_s=settings.timeout_s,
                            on_progress=on_progress, cancel=cancel)
        if lost.is_set():
            run_log.warning("probe run %s: lease lost after %.0f s; its result is dropped",
                            job.id, time.monotonic() - began)
            return "lease lost"
        if stop.is_set():
            status, error = "interrupted", "the agent stopped while this run was in progress"
            run_log.warning("probe run %s interrupted after %.0f s: the agent is stopping",
                            job.id, time.monotonic() - began)
        else:
            status, error = document.status, None
            run_log.log(logging.INFO if status == "succeeded" else logging.WARNING,
                        "probe run %s finished: %s in %.0f s, %d measurement(s), %d failure(s)",
                        job.id, status, time.monotonic() - began, len(document.measurements),
                        len(document.failures))
        payload = document.to_json()
    except Exception as exc:  # noqa: BLE001 - reported on the run, never as numbers
        run_log.exception("probe run %s failed after %.0f s", job.id, time.monotonic() - began)
        status, error, payload = "failed", f"{type(exc).__name__}: {exc}", None
    finally:
        done.set()
        beater.join()
    if not queue.finish(job, status, payload, error):
        return "lease lost"
    return status


def serve_jobs(queue: JobQueue, stop: threading.Event, settings: JobSettings, *,
               wait_s: float = 1.0, executor: Executor | None = None,
               on_job: Callable[[Job, str], None] | None = None) -> None:
    """Claim and run jobs until `stop` is set; errors are logged and the loop goes on."""
    while not stop.is_set():
        try:
            job = queue.claim(wait_s)
        except AgentRefused:
            raise
        except Exception:  # noqa: BLE001 - keep serving; the error is logged, not lost
            log.exception("claiming a probe job failed")
            stop.wait(wait_s)
            continue
        if job is None:
            continue
        outcome = run_job(queue, job, settings, stop, executor)
        if on_job is not None:
            on_job(job, outcome)


class AgentRefused(RuntimeError):
    """The server refuses this agent's token (unknown or revoked): retrying cannot help."""
