"""Probe-run progress in words: steps done, time elapsed and an estimate of what is left,
plus the duration and machine the run history shows. The page's script says the same."""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.storage.tables import ProbeRunRow


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    # SQLite hands back naive datetimes; every stored time is UTC.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=dt.UTC)


def duration_words(seconds: float) -> str:
    """Return "45 s", "3 min 05 s"."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    return f"{seconds // 60} min {seconds % 60:02d} s"


def progress_line(progress: dict[str, Any] | None, status: str, started_at: dt.datetime | None,
                  now: dt.datetime) -> str:
    """Return e.g. "12 of 40 steps — running tensorflow/mlp — 1 min 02 s elapsed, about
    2 min 40 s left"; the estimate assumes the remaining steps take as long as the done ones."""
    p = progress or {"total": 0, "done": 0, "current": status}
    total, done = int(p.get("total") or 0), int(p.get("done") or 0)
    text = f"{done} of {total or '?'} steps — running {p.get('current') or status}"
    started = _aware(started_at)
    if status != "running" or started is None:
        return text if status == "running" else f"{status} — waiting to start"
    elapsed = (now - started).total_seconds()
    text += f" — {duration_words(elapsed)} elapsed"
    if total and 0 < done < total:
        text += f", about {duration_words(elapsed / done * (total - done))} left"
    return text


def run_duration(run: ProbeRunRow, now: dt.datetime) -> str:
    """Return how long a run took (or has taken so far), or "—" before it starts."""
    started, finished = _aware(run.started_at), _aware(run.finished_at)
    if started is None:
        return "—"
    if finished is None:
        return f"{duration_words((now - started).total_seconds())} so far"
    return duration_words((finished - started).total_seconds())


def run_machine(run: ProbeRunRow) -> str:
    """Return the machine a run ran on: its CPU from the document, else the host that took it."""
    environment = (run.document or {}).get("environment") or {}
    if environment.get("cpu_model"):
        return f"{environment['cpu_model']}, {environment.get('threads', '?')} thread(s)"
    if run.owner:
        return run.owner.split("|", 1)[0]
    return "—"
