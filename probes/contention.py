"""How much CPU other processes used while the probes ran (spec §5, `contended`).

Busy CPU time of the whole machine over an interval, minus the CPU time of this thread
and the workers it waited for, divided by the interval, is the number of cores other
processes kept busy. A run where that share reaches the threshold in rules/policy.yaml
(`evidence.contended_other_cores`) is contended: its numbers are shown, never scored.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import yaml

POLICY = Path(__file__).resolve().parent.parent / "rules" / "policy.yaml"


def _busy_s() -> float:
    t = psutil.cpu_times()
    return t.user + t.system + getattr(t, "nice", 0.0) + getattr(t, "irq", 0.0) + \
        getattr(t, "softirq", 0.0) + getattr(t, "steal", 0.0)


def _ours_s() -> float:
    # This thread (the web server's other threads are not the probe's) plus every child
    # waited for: the workers and whatever they waited for in turn.
    me = resource.getrusage(getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF))
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else [0.0] * 3


@dataclass
class Sample:
    wall: float
    busy: float
    ours: float
    load: list[float]


def sample() -> Sample:
    return Sample(time.monotonic(), _busy_s(), _ours_s(), _load())


def usage(start: Sample, end: Sample | None = None) -> dict[str, Any]:
    """Return the CPU use of others and ours between two samples, in cores."""
    end = end or sample()
    interval = max(end.wall - start.wall, 1e-6)
    ours = max(end.ours - start.ours, 0.0)
    others = max(end.busy - start.busy - ours, 0.0)
    return {"interval_s": round(interval, 3), "others_cores": round(others / interval, 3),
            "ours_cores": round(ours / interval, 3), "load_before": start.load,
            "load_after": end.load}


def add(total: dict[str, Any] | None, part: dict[str, Any]) -> dict[str, Any]:
    """Return the CPU use over two intervals of one framework (its rounds), time-weighted."""
    if total is None:
        return dict(part)
    interval = total["interval_s"] + part["interval_s"]

    def mean(key: str) -> float:
        return round((total[key] * total["interval_s"] + part[key] * part["interval_s"])
                     / max(interval, 1e-6), 3)

    return {"interval_s": round(interval, 3), "others_cores": mean("others_cores"),
            "ours_cores": mean("ours_cores"), "load_before": total["load_before"],
            "load_after": part["load_after"]}


def threshold_cores(policy: Path = POLICY) -> tuple[float, str]:
    """Return the contention threshold (cores used by others) and why, from the policy."""
    data = yaml.safe_load(policy.read_text(encoding="utf-8"))["evidence"]
    return float(data["contended_other_cores"]), str(data["contended_why"]).strip()


def contention(run: dict[str, Any], per_framework: dict[str, dict[str, Any]],
               policy: Path = POLICY) -> dict[str, Any]:
    """Return the document's contention block: contended when others used the threshold
    or more of a core over the run, or over either framework's own measuring time."""
    limit, why = threshold_cores(policy)
    worst = max([run["others_cores"]] + [u["others_cores"] for u in per_framework.values()])
    return {"contended": worst >= limit, "threshold_cores": limit, "run": run,
            "per_framework": per_framework, "why": why[:400]}
