"""Two probe runs side by side: every metric both measured, as a ratio with a 95% interval
and a verdict (spec §5, through statistics.compare), plus how the machines differ.

Works on stored probe documents as plain JSON, so that raw samples (`samples` on a
measurement: a list of numbers, or one list per round) are used wherever a document has
them. Where a side has only summary numbers, the interval cannot be computed: the ratio of
the two headline values is shown and the verdict is `inconclusive`; no samples are made up.
The ratio is oriented "b over a": above 1 means run b is better (faster, higher rate).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from app.decision.measures import METRICS
from app.decision.statistics import TIE_BAND, Verdict, compare

NO_SAMPLES = "no raw samples in {which}: the interval cannot be computed"
# The headline of a run, for a machine's history: eager latency and throughput per model.
HEADLINE = (("eager", "latency_ms_b1"), ("eager", "throughput_sps_b32"))


@dataclass(frozen=True)
class MetricComparison:
    framework: str
    model: str | None
    variant: str | None
    metric: str
    unit: str
    higher_is_better: bool
    a: float
    b: float
    ratio: float | None
    ci95: tuple[float, float] | None
    verdict: Verdict
    basis: str  # "samples" or "summary"
    n_a: int | None = None
    n_b: int | None = None
    note: str | None = None

    @property
    def change(self) -> str | None:
        """'improvement' / 'regression' when the interval excludes no change by more than 5%."""
        if self.ci95 is None:
            return None
        if self.ci95[0] > 1.0 + TIE_BAND:
            return "improvement"
        if self.ci95[1] < 1.0 - TIE_BAND:
            return "regression"
        return None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ci95"] = list(self.ci95) if self.ci95 else None
        out["change"] = self.change
        return out


@dataclass
class RunComparison:
    metrics: list[MetricComparison] = field(default_factory=list)
    environment_differences: list[dict[str, Any]] = field(default_factory=list)
    only_in_a: int = 0
    only_in_b: int = 0

    def summary(self) -> dict[str, int]:
        counts = {"faster": 0, "slower": 0, "tie": 0, "inconclusive": 0}
        for m in self.metrics:
            counts[m.verdict] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {"metrics": [m.to_dict() for m in self.metrics],
                "environment_differences": self.environment_differences,
                "only_in_a": self.only_in_a, "only_in_b": self.only_in_b,
                "summary": self.summary()}


Key = tuple[str, str | None, str | None, str]


def _index(document: dict[str, Any]) -> dict[Key, dict[str, Any]]:
    return {(m["framework"], m.get("model"), m.get("variant"), m["metric"]): m
            for m in document.get("measurements", [])}


def _samples(measurement: dict[str, Any]) -> list[Any] | None:
    samples = measurement.get("samples")
    return samples if isinstance(samples, list) and samples else None


def _count(samples: list[Any]) -> int:
    return sum(len(s) if isinstance(s, list) else 1 for s in samples)


def compare_measurements(key: Key, a: dict[str, Any], b: dict[str, Any]) -> MetricComparison:
    """Return b over a for one metric: from the samples when both sides have them."""
    framework, model, variant, metric = key
    unit, higher = METRICS.get(metric, (a.get("unit", ""), False))
    value_a, value_b = float(a["value"]), float(b["value"])
    common = {"framework": framework, "model": model, "variant": variant, "metric": metric,
              "unit": unit, "higher_is_better": higher, "a": value_a, "b": value_b}
    samples_a, samples_b = _samples(a), _samples(b)
    if samples_a and samples_b:
        try:
            result = compare(samples_a, samples_b, higher_is_better=higher)
        except ValueError as exc:
            return MetricComparison(**common, ratio=None, ci95=None, verdict="inconclusive",
                                    basis="samples", note=f"cannot compare: {exc}")
        return MetricComparison(**common, ratio=result.ratio, ci95=result.ci95,
                                verdict=result.verdict, basis="samples",
                                n_a=result.n_baseline, n_b=result.n_candidate)
    missing = "either run" if not (samples_a or samples_b) else ("run a" if not samples_a
                                                                  else "run b")
    ratio = None
    if value_a > 0 and value_b > 0:
        ratio = float(f"{(value_b / value_a if higher else value_a / value_b):.4g}")
    return MetricComparison(
        **common, ratio=ratio, ci95=None, verdict="inconclusive", basis="summary",
        n_a=_count(samples_a) if samples_a else (a.get("stats") or {}).get("n"),
        n_b=_count(samples_b) if samples_b else (b.get("stats") or {}).get("n"),
        note=NO_SAMPLES.format(which=missing))


def _flatten(prefix: str, value: Any) -> Iterable[tuple[str, Any]]:
    if isinstance(value, dict):
        for key in sorted(value):
            yield from _flatten(f"{prefix}.{key}" if prefix else key, value[key])
    elif isinstance(value, list):
        yield prefix, ", ".join(str(v) for v in value) or "none"
    else:
        yield prefix, value


def environment_differences(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """Return [{field, a, b}] for every environment field whose value differs."""
    flat_a, flat_b = dict(_flatten("", a)), dict(_flatten("", b))
    return [{"field": name, "a": flat_a.get(name), "b": flat_b.get(name)}
            for name in sorted(set(flat_a) | set(flat_b))
            if flat_a.get(name) != flat_b.get(name)]


def compare_runs(a: dict[str, Any], b: dict[str, Any],
                 only: Iterable[tuple[str, str]] | None = None) -> RunComparison:
    """Compare every metric both documents measured (or only the (variant, metric) pairs given)."""
    index_a, index_b = _index(a), _index(b)
    wanted = set(only) if only is not None else None
    shared = [k for k in index_a if k in index_b
              and (wanted is None or (k[2], k[3]) in wanted)]
    shared.sort(key=lambda k: tuple(x or "" for x in k))
    return RunComparison(
        metrics=[compare_measurements(k, index_a[k], index_b[k]) for k in shared],
        environment_differences=environment_differences(a.get("environment") or {},
                                                        b.get("environment") or {}),
        only_in_a=len(set(index_a) - set(index_b)), only_in_b=len(set(index_b) - set(index_a)))


def headline(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Return a run's headline numbers: eager latency and throughput per framework and model."""
    wanted = set(HEADLINE)
    return [{"framework": m["framework"], "model": m.get("model"), "variant": m.get("variant"),
             "metric": m["metric"], "value": m["value"]}
            for m in document.get("measurements", [])
            if (m.get("variant"), m["metric"]) in wanted]
