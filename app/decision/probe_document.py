"""The probe-run document (``framework-advisor/probe-run@1``): what ``advisor probe``
writes and the service imports. Validated on read so documents made on other
machines can be trusted as data: every number finite, every timing and rate
positive, every string and list bounded, comparisons consistent with their
intervals. Shared by the probes and the web process; it imports no framework."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StringConstraints,
    model_validator,
)

from app.decision.statistics import verdict_for

SCHEMA = "framework-advisor/probe-run@1"
RunStatus = Literal["succeeded", "partial", "failed"]
SMOKE_MODELS = ("mlp", "cnn", "transformer")
WORKLOADS = ("tabular", "recommender", "vision", "encoder", "decoder")
ModelName = Literal["mlp", "cnn", "transformer", "tabular", "recommender", "vision", "encoder",
                    "decoder"]
FrameworkName = Literal["pytorch", "tensorflow"]
ComparisonVerdict = Literal["faster", "slower", "tie", "inconclusive"]
# Samples kept per round and measurement: enough for a bootstrap, small enough that a
# full run of every workload stays well under the import body limit.
MAX_KEPT_SAMPLES = 200
MAX_ROUNDS = 9

# Numbers and flags are strict: a document from another machine that says
# "batch_size": false or "n": "12" is refused, not coerced; NaN and infinities are
# refused everywhere (the model config), since no database or division survives them.
Number = StrictFloat  # accepts ints, refuses bools and strings
# Timings, rates, sizes and ratios: positive and within 1e-9..1e15 of their unit, so that
# no ratio, inverse or machine count derived from them overflows or divides by zero.
Positive = Annotated[StrictFloat, Field(ge=1e-9, le=1e15)]
Text = Annotated[str, StringConstraints(max_length=200)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=64)]
# Timestamps a database can store and sort: years 2000-2999 only.
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2999, 12, 31, tzinfo=dt.UTC)


def _iso_utc(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str) and len(value) <= 40:
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("expected an ISO 8601 date-time string") from None
    else:
        raise ValueError("expected an ISO 8601 date-time string")
    if parsed.tzinfo is None:
        raise ValueError("expected a UTC offset (e.g. +00:00)")
    try:
        parsed = parsed.astimezone(dt.UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-14:00 is past year 9999 in UTC
        raise ValueError("date-time outside 2000-2999") from None
    if not EARLIEST <= parsed <= LATEST:
        raise ValueError("date-time outside 2000-2999")
    return parsed


Timestamp = Annotated[dt.datetime, BeforeValidator(_iso_utc)]


def _number_not_flag(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("expected a whole number")
    return value


def count(**constraints: Any) -> Any:
    """Return a whole-number type (12 and 12.0, never true or "12") with its constraints,
    placed before the validator so that they show in the JSON Schema."""
    return Annotated[int, Field(**constraints), BeforeValidator(_number_not_flag)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Stats(_Strict):
    """Distribution of repeated timings (spec §5): percentiles, mean, stdev, n, CV."""

    p50: Positive
    p90: Positive
    p95: Positive
    p99: Positive
    mean: Positive
    stdev: Number = Field(ge=0)
    n: count(ge=1, le=10**9)
    cv: Number = Field(ge=0, description="coefficient of variation, stdev/mean")
    total_s: Number = Field(ge=0, description="seconds spent timing")


# The smoke set and the representative workloads (probes/plan.py MODELS; spec §5).
Model = ModelName


# Metric names (spec §5). Timings, rates and sizes are positive; differences may be zero.
# Keeping the two kinds apart in the schema lets a client see the rule, not just meet it.
# Throughput and training batches differ per workload (probes/plan.py SIZING, issue 10a).
MEASURED_METRICS = ("import_s", "first_call_ms", "latency_ms_b1", "compile_s", "peak_rss_mb",
                    "artifact_bytes", "prefill_ms", "decode_tokens_per_s",
                    *(f"throughput_sps_b{b}" for b in (1, 4, 8, 16, 32, 64, 128, 256)),
                    *(f"train_step_ms_b{b}" for b in (1, 4, 8, 16, 32, 64, 128, 256)))
# Differences and counts: zero or more.
DIFF_METRICS = ("parity_max_abs_diff", "output_max_abs_diff", "parity_token_mismatches",
                "int8_quantized_convs")
RoundSamples = Annotated[list[Positive], Field(min_length=1, max_length=MAX_KEPT_SAMPLES)]


class _MeasurementBase(_Strict):
    framework: Literal["pytorch", "tensorflow", "both"] = Field(
        description="'both' for comparisons between the frameworks (parity)")
    model: ModelName | None = None
    variant: Name | None = None
    unit: str = Field(max_length=16)
    stats: Stats | None = None
    noisy: StrictBool = Field(False, description="coefficient of variation of 15% or more")
    batch_size: count(ge=1, le=10**6) | None = None
    samples: list[RoundSamples] | None = Field(
        None, max_length=MAX_ROUNDS,
        description="raw samples in the metric's unit, one list per round (fresh subprocess); "
                    f"every sample, or every k-th in time order when more than {MAX_KEPT_SAMPLES}")


class Measurement(_MeasurementBase):
    """A timing, rate or size: positive, finite."""

    metric: Literal[MEASURED_METRICS]  # type: ignore[valid-type]
    value: Positive = Field(description="the headline number: p50 for timing distributions")


class DiffMeasurement(_MeasurementBase):
    """A difference between outputs: zero or more."""

    metric: Literal[DIFF_METRICS]  # type: ignore[valid-type]
    value: Number = Field(ge=0, le=1e15, description="largest absolute difference")


AnyMeasurement = Annotated[Measurement | DiffMeasurement, Field(discriminator="metric")]


class Failure(_Strict):
    framework: Literal["pytorch", "tensorflow", "both"] | None = None
    model: ModelName | None = None
    variant: Name | None = None
    stage: str = Field(max_length=64, description="what was being done: import, build, parity...")
    reason: str = Field(max_length=4000)


class Side(_Strict):
    framework: FrameworkName
    variant: Name
    chosen_as: Literal["best"] | None = Field(
        None, description="'best': the framework's fastest variant for this metric in this run")


class Comparison(_Strict):
    """Candidate over baseline for one metric and model (spec §5): ratio of medians above 1
    means the candidate is better, a bootstrap 95% interval, and the verdict it gives."""

    metric: Name
    model: ModelName | None = None
    baseline: Side
    candidate: Side
    ratio: Positive
    ci95: tuple[Positive, Positive]
    verdict: ComparisonVerdict
    rounds: count(ge=1, le=MAX_ROUNDS) = Field(description="fresh-subprocess rounds per side")
    n_baseline: count(ge=1, le=10**9)
    n_candidate: count(ge=1, le=10**9)
    noisy: StrictBool = Field(False, description="either side's series has a CV of 15% or more")

    @model_validator(mode="after")
    def _consistent(self) -> Comparison:
        # The verdict is a function of the interval: recomputed on read, so an imported
        # verdict can never claim more than its own numbers support.
        low, high = sorted(self.ci95)
        self.__dict__["ci95"] = (low, high)
        self.__dict__["verdict"] = verdict_for(low, high)
        return self

    def key(self) -> tuple:
        return (self.metric, self.model, self.candidate.framework, self.candidate.chosen_as
                or self.candidate.variant, self.baseline.framework,
                self.baseline.chosen_as or self.baseline.variant)


class CpuUse(_Strict):
    """CPU used by other processes while one part of the run was measured."""

    interval_s: Number = Field(ge=0)
    others_cores: Number = Field(ge=0, le=4096,
                                 description="CPU time of other processes / interval, in cores")
    ours_cores: Number = Field(ge=0, le=4096)
    load_before: tuple[Number, Number, Number]
    load_after: tuple[Number, Number, Number]


class Contention(_Strict):
    contended: StrictBool
    threshold_cores: Number = Field(ge=0, le=4096)
    run: CpuUse
    per_framework: dict[FrameworkName, CpuUse] = Field(default_factory=dict)
    why: str = Field("", max_length=400)


class ProbeSettings(_Strict):
    mode: Literal["quick", "full", "test"]
    models: list[ModelName] = Field(max_length=16)
    frameworks: list[FrameworkName] = Field(max_length=2)
    threads: count(ge=1, le=4096)
    warmup_calls: count(ge=0, le=10**6)
    warmup_s: Number = Field(ge=0)
    min_samples: count(ge=1, le=10**7)
    min_seconds: Number = Field(ge=0)
    timeout_s: Positive
    seed: count()
    parity_tolerance: Positive
    rounds: count(ge=1, le=MAX_ROUNDS) = 1
    order: list[FrameworkName] = Field(default_factory=list, max_length=2 * MAX_ROUNDS,
                                       description="the order the workers ran, e.g. A B B A A B")


class FrameworkInfo(_Strict):
    version: Text
    details: dict[Name, Text] = Field(default_factory=dict, max_length=50)


class Environment(_Strict):
    cpu_model: str = Field(max_length=200)
    cores: count(ge=1, le=4096)
    memory_mb: Positive
    os: str = Field(max_length=200)
    python: str = Field(max_length=50)
    threads: count(ge=1, le=4096)
    thread_settings: dict[Name, Text] = Field(default_factory=dict, max_length=50)
    accelerators: list[Text] = Field(default_factory=list, max_length=16)
    frameworks: dict[FrameworkName, FrameworkInfo] = Field(default_factory=dict)
    hostname_hash: str | None = Field(None, max_length=64)


class ProbeRunDocument(_Strict):
    schema_: Literal["framework-advisor/probe-run@1"] = Field(alias="schema")
    status: RunStatus
    started_at: Timestamp
    finished_at: Timestamp
    duration_s: Number = Field(ge=0)
    settings: ProbeSettings
    environment: Environment
    measurements: list[AnyMeasurement] = Field(default_factory=list, max_length=5000)
    failures: list[Failure] = Field(default_factory=list, max_length=1000)
    comparisons: list[Comparison] = Field(default_factory=list, max_length=5000)
    contention: Contention | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)

    @model_validator(mode="after")
    def _ordered(self) -> ProbeRunDocument:
        if self.finished_at < self.started_at:
            raise ValueError("finished_at: before started_at")
        return self

    def to_json(self) -> dict:
        """Return the document as JSON-ready data, with its ``schema`` key."""
        return self.model_dump(mode="json", by_alias=True)

    @property
    def smoke_only(self) -> bool:
        """True when no representative workload was measured, only the smoke set."""
        return not any(m.model in WORKLOADS for m in self.measurements)

    def find(
        self, framework: str, metric: str, variant: str | None = None, model: str | None = None
    ) -> Measurement | DiffMeasurement | None:
        """Return the measurement with exactly these keys, if it was measured."""
        for m in self.measurements:
            if (m.framework, m.metric, m.variant, m.model) == (framework, metric, variant, model):
                return m
        return None
