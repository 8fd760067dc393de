"""The background worker of a server process: takes queued probe runs one at a time
(across every process sharing the database) and runs them in framework subprocesses."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.storage import probe_runs
from app.storage.tables import ProbeRunRow

log = logging.getLogger("advisor.probes")
# What executes a claimed run: probes.runner.run_probes in production.
Executor = Callable[..., Any]


class ProbeWorker:
    """Polls the queue in a daemon thread; stop() cancels a run in progress."""

    def __init__(self, sessions: sessionmaker[Session], timeout_s: float,
                 poll_s: float = 1.0, heartbeat_s: float = 5.0,
                 executor: Executor | None = None):
        self.sessions = sessions
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self.heartbeat_s = heartbeat_s
        self.owner = probe_runs.this_process()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="probe-worker", daemon=True)
        self._executor = executor

    def start(self) -> None:
        probe_runs.mark_dead_runs_interrupted(self.sessions)
        self._thread.start()

    def stop(self, wait_s: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(wait_s)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                probe_runs.mark_dead_runs_interrupted(self.sessions)
                run = probe_runs.claim_next(self.sessions, self.owner)
                if run is not None:
                    self._execute(run)
                    continue
            except Exception:  # noqa: BLE001 - keep serving; the error is logged, not lost
                log.exception("probe worker iteration failed")
            self._stop.wait(self.poll_s)

    def _execute(self, run: ProbeRunRow) -> None:
        if self._executor is None:
            from probes.runner import run_probes  # imports no framework

            self._executor = run_probes
        last = [0.0]
        latest: dict[str, Any] = {}

        def on_progress(progress: Any) -> None:
            latest.update(progress.as_dict())
            now = time.monotonic()
            if now - last[0] >= 0.5:  # the database needs no more than two updates a second
                last[0] = now
                probe_runs.record_progress(self.sessions, run.id, dict(latest))

        beating = threading.Event()

        def heartbeat() -> None:
            # Compiling one model can take many seconds without a progress event.
            while not beating.wait(self.heartbeat_s):
                probe_runs.record_progress(self.sessions, run.id, dict(latest) or run.progress)

        beat = threading.Thread(target=heartbeat, daemon=True)
        beat.start()
        log.info("probe run %s started: %s mode, models %s, frameworks %s", run.id, run.mode,
                 ",".join(run.models), ",".join(run.frameworks))
        began = time.monotonic()
        try:
            document = self._executor(run.models, run.frameworks, run.mode,
                                      timeout_s=self.timeout_s, on_progress=on_progress,
                                      cancel=self._stop)
            if self._stop.is_set():
                probe_runs.finish(self.sessions, run.id, "interrupted", document.to_json(),
                                  "the server stopped while this run was in progress")
                log.warning("probe run %s interrupted after %.0f s: the server is stopping",
                            run.id, time.monotonic() - began)
            else:
                probe_runs.finish(self.sessions, run.id, document.status, document.to_json())
                log.log(logging.INFO if document.status == "succeeded" else logging.WARNING,
                        "probe run %s finished: %s in %.0f s, %d measurement(s), %d failure(s)",
                        run.id, document.status, time.monotonic() - began,
                        len(document.measurements), len(document.failures))
        except Exception as exc:  # noqa: BLE001 - reported on the run, never as numbers
            log.exception("probe run %s failed after %.0f s", run.id, time.monotonic() - began)
            probe_runs.finish(self.sessions, run.id, "failed", None, f"{type(exc).__name__}: {exc}")
        finally:
            beating.set()
