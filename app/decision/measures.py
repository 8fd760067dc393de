"""Names for probe measurements that rules and claims can refer to.

A measure is either a plain value or a speed-up of one variant over another:

  {value: {framework: pytorch, variant: eager, metric: latency_ms_b1, stat: p50, model: mlp}}
  {speedup: {framework: pytorch, variant: compile, over: eager, metric: latency_ms_b1}}
  {speedup: {framework: tensorflow, variant: best, over: {framework: pytorch, variant: best},
             metric: throughput_sps_b32}}

``variant: best`` is the framework's best variant for that metric. A speed-up is
"how many times better": baseline/candidate for lower-is-better metrics
(latencies), candidate/baseline for higher-is-better ones (throughput). It is read
from the run's stored comparison (ratio of medians, bootstrap 95% interval, verdict),
never recomputed from point values. Without ``model`` the measure is about the user's
workload: the workload the policy maps their model family to, else its smoke-set model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from app.decision.probe_document import ModelName

# What the probes measure is defined once, by the probes (this imports no framework).
from probes.plan import VARIANTS

Framework = Literal["pytorch", "tensorflow"]
Stat = Literal["p50", "p90", "p95", "p99", "mean", "value"]

# Metric name -> (unit, higher_is_better). Public names: see shared/spec.md §5.
METRICS: dict[str, tuple[str, bool]] = {
    "import_s": ("s", False),
    "first_call_ms": ("ms", False),
    "latency_ms_b1": ("ms", False),
    "throughput_sps_b32": ("samples/s", True),
    "compile_s": ("s", False),
    "train_step_ms_b32": ("ms", False),
    "peak_rss_mb": ("MB", False),
    "artifact_bytes": ("bytes", False),
    "parity_max_abs_diff": ("abs", False),
    "prefill_ms": ("ms", False),
    "decode_tokens_per_s": ("tokens/s", True),
}


class Side(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    framework: Framework
    variant: str

    @model_validator(mode="after")
    def _known_variant(self) -> Side:
        known = VARIANTS[self.framework] + ("best",)
        if self.variant not in known:
            raise ValueError(
                f"variant {self.variant!r} is not a {self.framework} variant; "
                f"expected one of {', '.join(known)}"
            )
        return self


class Measure(BaseModel):
    """A reference to a measured number, plain or as a speed-up ratio."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["value", "speedup"]
    side: Side
    over: Side | None = None
    metric: str
    stat: Stat = "p50"
    model: ModelName | None = None

    @model_validator(mode="after")
    def _known_metric(self) -> Measure:
        if self.metric not in METRICS:
            raise ValueError(f"unknown metric {self.metric!r}; expected one of {', '.join(METRICS)}")
        if self.kind == "speedup" and self.over is None:
            raise ValueError("a speedup needs 'over'")
        return self

    @property
    def higher_is_better(self) -> bool:
        return METRICS[self.metric][1]

    def describe(self) -> str:
        """Return a short human description, e.g. 'pytorch compile vs eager, latency_ms_b1'."""
        where = f" ({self.model})" if self.model else ""
        if self.kind == "value":
            return f"{self.side.framework} {self.side.variant} {self.metric} {self.stat}{where}"
        assert self.over is not None
        over = (
            self.over.variant
            if self.over.framework == self.side.framework
            else f"{self.over.framework} {self.over.variant}"
        )
        return (
            f"{self.side.framework} {self.side.variant} vs {over}: "
            f"{self.metric} {self.stat} speed-up{where}"
        )


@dataclass(frozen=True)
class Fact:
    """What a run says about one measure for one user's workload.

    For a speed-up: the stored comparison's ratio, interval and verdict; for a value: the
    number. `set_aside` says in plain words why the advice may not take points from it
    (contended run, noisy series, inconclusive comparison); None when it is usable."""

    value: float
    model: str
    ci95: tuple[float, float] | None = None
    verdict: str | None = None
    set_aside: str | None = None
    note: str | None = None  # e.g. "one round": shown, not a reason to set it aside

    @property
    def usable(self) -> bool:
        return self.set_aside is None


# (measure, the answers being scored) -> the fact, or None when it was not measured.
MeasureLookup = Callable[[Measure, Mapping[str, Any]], Fact | None]


class WorkloadChoice(BaseModel):
    """Which probe numbers speak for a model family (rules/policy.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    workload: ModelName
    smoke: ModelName = Field(description="the smoke-set model used when the workload is unmeasured")
    proxy: bool = Field(False, description="the workload only stands in for this family")
    why: str | None = None


class EvidencePolicy(BaseModel):
    """When measured numbers may move the advice (rules/policy.yaml `evidence`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    contended_other_cores: float = Field(gt=0)
    contended_why: str
    noisy_cv: float = Field(gt=0, lt=1)
    noisy_why: str
    inconclusive_why: str


def parse_measure(raw: Any) -> Measure:
    """Return a Measure from its YAML form, or raise ValueError saying what is wrong."""
    if not isinstance(raw, dict) or len(raw) != 1 or next(iter(raw)) not in ("value", "speedup"):
        raise ValueError("expected {value: {...}} or {speedup: {...}}")
    kind, body = next(iter(raw.items()))
    if not isinstance(body, dict):
        raise ValueError(f"{kind}: expected a mapping")
    body = dict(body)
    data: dict[str, Any] = {"kind": kind}
    try:
        data["side"] = Side(framework=body.pop("framework", None), variant=body.pop("variant", None))
        if kind == "speedup":
            over = body.pop("over", None)
            if isinstance(over, str):
                over = {"framework": data["side"].framework, "variant": over}
            if not isinstance(over, dict):
                raise ValueError("speedup.over: give a variant name or {framework, variant}")
            data["over"] = Side(**over)
        data.update(body)
        return Measure(**data)
    except ValidationError as exc:
        messages = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or kind}: {e['msg']}" for e in exc.errors()
        )
        raise ValueError(messages) from None
