"""Helpers that derive probe documents from a recorded one for evidence tests: change a
series' raw samples, then recompute its stats and every comparison with the probes' own
code, so the derived document is as consistent as one a run would write."""

from __future__ import annotations

import copy
import statistics
from collections.abc import Callable

from app.decision.probe_document import ProbeRunDocument
from probes import compare, timing
from probes.plan import VARIANTS


def rebuild(data: dict) -> ProbeRunDocument:
    """Recompute stats, noisy flags and comparisons from the samples in the data."""
    for m in data["measurements"]:
        if m.get("samples") and m.get("stats"):
            pooled = [x for r in m["samples"] for x in r]
            stats = timing.summarise(pooled, scale=1.0)
            stats["total_s"] = m["stats"]["total_s"]
            m["stats"], m["value"] = stats, stats["p50"]
            m["noisy"] = stats["cv"] >= timing.NOISY_CV
        elif m.get("samples"):
            m["value"] = statistics.median(x for r in m["samples"] for x in r)
    data["comparisons"] = compare.comparisons(data["measurements"], VARIANTS)
    return ProbeRunDocument.model_validate(data)


def derive(document: ProbeRunDocument, change: Callable[[dict], None] | None = None, *,
           quiet: bool = True, steady: bool = True) -> ProbeRunDocument:
    """Return a rebuilt copy: `steady` replaces each round's samples by a steady series
    (±2%) around its recorded median, as a quiet machine would give (the recorded run was
    made on a busy one); `quiet` marks the run uncontended; `change` edits measurements."""
    data = copy.deepcopy(document.to_json())
    if steady:
        for m in data["measurements"]:
            if m.get("samples") and len(m["samples"][0]) >= 5:
                m["samples"] = [[statistics.median(r) * (1 + 0.01 * (i % 5 - 2))
                                 for i in range(len(r))] for r in m["samples"]]
    if change is not None:
        change(data)
    if quiet and data.get("contention"):
        c = data["contention"]
        for use in [c["run"], *c["per_framework"].values()]:
            use["others_cores"] = 0.0
        c["contended"] = False
    return rebuild(data)


def scale(framework: str, variant: str | None, metric: str, factor: float
          ) -> Callable[[dict], None]:
    """Return a change that multiplies one series' samples (every model) by factor."""
    def change(data: dict) -> None:
        for m in data["measurements"]:
            if (m["framework"], m["variant"], m["metric"]) == (framework, variant, metric):
                m["samples"] = [[x * factor for x in r] for r in m["samples"]]
                if len(m["samples"]) == 1 and len(m["samples"][0]) == 1:
                    # one cold number per framework: give it three rounds, like full mode
                    v = m["samples"][0][0]
                    m["samples"] = [[v * 0.99], [v], [v * 1.01]]
        _three_rounds_of_import(data)
    return change


def _three_rounds_of_import(data: dict) -> None:
    for m in data["measurements"]:
        if m["metric"] == "import_s" and len(m["samples"]) == 1:
            v = m["samples"][0][0]
            m["samples"] = [[v * 0.99], [v], [v * 1.01]]


def drop(metric: str) -> Callable[[dict], None]:
    def change(data: dict) -> None:
        data["measurements"] = [m for m in data["measurements"] if m["metric"] != metric]
    return change
