"""The probe-run document (``framework-advisor/probe-run@1``): what ``advisor probe``
writes and the service imports. Validated on read so documents made on other
machines can be trusted as data. Shared by the probes and the web process; it
imports no framework."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA = "framework-advisor/probe-run@1"
RunStatus = Literal["succeeded", "partial", "failed"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Stats(_Strict):
    """Distribution of repeated timings (spec §5): percentiles, mean, stdev, n, CV."""

    p50: float
    p90: float
    p95: float
    p99: float
    mean: float
    stdev: float
    n: int = Field(ge=1)
    cv: float = Field(ge=0, description="coefficient of variation, stdev/mean")
    total_s: float = Field(ge=0, description="seconds spent timing")


class Measurement(_Strict):
    framework: Literal["pytorch", "tensorflow", "both"] = Field(
        description="'both' for comparisons between the frameworks (parity)")
    model: Literal["mlp", "cnn", "transformer"] | None = None
    variant: str | None = None
    metric: str = Field(max_length=64)
    unit: str = Field(max_length=16)
    value: float = Field(description="the headline number: p50 for timing distributions")
    stats: Stats | None = None
    noisy: bool = Field(False, description="coefficient of variation of 15% or more")
    batch_size: int | None = None


class Failure(_Strict):
    framework: Literal["pytorch", "tensorflow", "both"] | None = None
    model: Literal["mlp", "cnn", "transformer"] | None = None
    variant: str | None = None
    stage: str = Field(max_length=64, description="what was being done: import, build, parity...")
    reason: str = Field(max_length=4000)


class ProbeSettings(_Strict):
    mode: Literal["quick", "full", "test"]
    models: list[Literal["mlp", "cnn", "transformer"]]
    frameworks: list[Literal["pytorch", "tensorflow"]]
    threads: int = Field(ge=1)
    warmup_calls: int
    warmup_s: float
    min_samples: int
    min_seconds: float
    timeout_s: float
    seed: int
    parity_tolerance: float


class FrameworkInfo(_Strict):
    version: str
    details: dict[str, str] = Field(default_factory=dict)


class Environment(_Strict):
    cpu_model: str
    cores: int
    memory_mb: float
    os: str
    python: str
    threads: int
    thread_settings: dict[str, str] = Field(default_factory=dict)
    accelerators: list[str] = Field(default_factory=list)
    frameworks: dict[str, FrameworkInfo] = Field(default_factory=dict)
    hostname_hash: str | None = None


class ProbeRunDocument(_Strict):
    schema_: Literal["framework-advisor/probe-run@1"] = Field(SCHEMA, alias="schema")
    status: RunStatus
    started_at: dt.datetime
    finished_at: dt.datetime
    duration_s: float
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
