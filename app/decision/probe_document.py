"""The probe-run document (``framework-advisor/probe-run@1``): what ``advisor probe``
writes and the service imports. Validated on read so documents made on other
machines can be trusted as data. Shared by the probes and the web process; it
imports no framework."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictFloat

SCHEMA = "framework-advisor/probe-run@1"
RunStatus = Literal["succeeded", "partial", "failed"]


# Numbers and flags are strict: a document from another machine that says
# "batch_size": false or "n": "12" is refused, not coerced.
Number = StrictFloat  # accepts ints, refuses bools and strings


def _iso_only(value: Any) -> Any:
    if isinstance(value, str | dt.datetime):
        return value
    raise ValueError("expected an ISO 8601 date-time string")


Timestamp = Annotated[dt.datetime, BeforeValidator(_iso_only)]


def _number_not_flag(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("expected a whole number")
    return value


def count(**constraints: Any) -> Any:
    """Return a whole-number type (12 and 12.0, never true or "12") with its constraints,
    placed before the validator so that they show in the JSON Schema."""
    return Annotated[int, Field(**constraints), BeforeValidator(_number_not_flag)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Stats(_Strict):
    """Distribution of repeated timings (spec §5): percentiles, mean, stdev, n, CV."""

    p50: Number
    p90: Number
    p95: Number
    p99: Number
    mean: Number
    stdev: Number = Field(ge=0)
    n: count(ge=1)
    cv: Number = Field(ge=0, description="coefficient of variation, stdev/mean")
    total_s: Number = Field(ge=0, description="seconds spent timing")


# The smoke set and the representative workloads (probes/plan.py MODELS; spec §5).
Model = Literal["mlp", "cnn", "transformer", "tabular", "recommender", "vision", "encoder", "decoder"]


class Measurement(_Strict):
    framework: Literal["pytorch", "tensorflow", "both"] = Field(
        description="'both' for comparisons between the frameworks (parity)")
    model: Model | None = None
    variant: str | None = None
    metric: str = Field(min_length=1, max_length=64)
    unit: str = Field(max_length=16)
    value: Number = Field(description="the headline number: p50 for timing distributions")
    stats: Stats | None = None
    noisy: StrictBool = Field(False, description="coefficient of variation of 15% or more")
    batch_size: count(ge=1) | None = None


class Failure(_Strict):
    framework: Literal["pytorch", "tensorflow", "both"] | None = None
    model: Model | None = None
    variant: str | None = None
    stage: str = Field(max_length=64, description="what was being done: import, build, parity...")
    reason: str = Field(max_length=4000)


class ProbeSettings(_Strict):
    mode: Literal["quick", "full", "test"]
    models: list[Model]
    frameworks: list[Literal["pytorch", "tensorflow"]]
    threads: count(ge=1)
    warmup_calls: count(ge=0)
    warmup_s: Number = Field(ge=0)
    min_samples: count(ge=1)
    min_seconds: Number = Field(ge=0)
    timeout_s: Number = Field(gt=0)
    seed: count()
    parity_tolerance: Number = Field(gt=0)


class FrameworkInfo(_Strict):
    version: str
    details: dict[str, str] = Field(default_factory=dict)


class Environment(_Strict):
    cpu_model: str = Field(max_length=200)
    cores: count(ge=1)
    memory_mb: Number = Field(gt=0)
    os: str = Field(max_length=200)
    python: str = Field(max_length=50)
    threads: count(ge=1)
    thread_settings: dict[str, str] = Field(default_factory=dict)
    accelerators: list[str] = Field(default_factory=list)
    frameworks: dict[str, FrameworkInfo] = Field(default_factory=dict)
    hostname_hash: str | None = None


class ProbeRunDocument(_Strict):
    schema_: Literal["framework-advisor/probe-run@1"] = Field(SCHEMA, alias="schema")
    status: RunStatus
    started_at: Timestamp
    finished_at: Timestamp
    duration_s: Number = Field(ge=0)
    settings: ProbeSettings
    environment: Environment
    measurements: list[Measurement] = Field(default_factory=list, max_length=5000)
    failures: list[Failure] = Field(default_factory=list, max_length=1000)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def to_json(self) -> dict:
        """Return the document as JSON-ready data, with its ``schema`` key."""
        return self.model_dump(mode="json", by_alias=True)

    def find(
        self, framework: str, metric: str, variant: str | None = None, model: str | None = None
    ) -> Measurement | None:
        """Return the measurement with exactly these keys, if it was measured."""
        for m in self.measurements:
            if (m.framework, m.metric, m.variant, m.model) == (framework, metric, variant, model):
                return m
        return None
