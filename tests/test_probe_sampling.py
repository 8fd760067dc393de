"""How the probes sample, without running a framework: a fake clock drives the sampling
loop, and a fake framework module drives one variant's measurement in a worker."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from probes import timing, worker
from probes.plan import MODES, WorkerConfig


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def sample_count(monkeypatch, call_s: float, mode, calls: list[int] | None = None) -> int:
    clock = FakeClock()
    monkeypatch.setattr(timing.time, "perf_counter", clock)
    made = calls if calls is not None else []

    def call() -> None:
        clock.now += call_s
        made.append(1)

    return len(timing.measure(call, mode))


def test_a_slow_series_stops_at_the_time_cap_with_enough_samples(monkeypatch):
    per_round = timing.per_round(MODES["full"], 3)
    assert per_round.max_seconds == MODES["full"].max_seconds / 3
    # A 1.2 s training step: capped, but never below MIN_CAPPED_SAMPLES a round, after a
    # warm-up that ends at the first call past the cap (three calls; the mode asks for ten).
    calls: list[int] = []
    assert sample_count(monkeypatch, 1.2, per_round, calls) == timing.MIN_CAPPED_SAMPLES
    assert len(calls) == 3 + timing.MIN_CAPPED_SAMPLES
    # A 0.5 s call reaches the cap after more samples than the floor.
    capped = sample_count(monkeypatch, 0.5, per_round)
    assert timing.MIN_CAPPED_SAMPLES < capped < per_round.min_samples
    # A fast call is untouched by the cap: it takes the mode's samples and seconds.
    fast = sample_count(monkeypatch, 0.001, per_round)
    assert fast >= per_round.min_samples and fast * 0.001 >= per_round.min_seconds - 1e-9
    # Quick mode has no cap: a slow call still takes every sample the mode asks for.
    assert sample_count(monkeypatch, 1.2, MODES["quick"]) == MODES["quick"].min_samples


@dataclass
class FakePrepared:
    infer: Any
    prepare_s: float = 2.0
    lazy: bool = False
    artifact_bytes: int | None = None
    native_inputs: Any = None


class FakeFramework:
    """Just enough of a probe module for one variant's measurement."""

    def prepare(self, variant, model, arrays, workdir, threads):
        return FakePrepared(infer=lambda *xs: np.ones((xs[0].shape[0], 2)))

    def native_input(self, model, arrays):
        return tuple(arrays)

    def sync(self) -> None:
        pass


def measured_metrics(capsys, round_index: int) -> set[str]:
    config = WorkerConfig(framework="pytorch", models=("mlp",), variants=("export",),
                          mode="test", threads=1, weights_path="", workdir="",
                          rounds=3, round_index=round_index)
    x1, x32 = (np.zeros((1, 4)),), (np.zeros((32, 4)),)
    worker._measure_variant(FakeFramework(), config, replace(MODES["test"]), Path("."), "mlp",
                            "export", x1, x32, {}, np.ones((1, 2)))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return {line["metric"] for line in lines if line["type"] == "measurement"}


def test_cold_numbers_come_from_the_first_round_only(capsys):
    """Later rounds reuse the first round's compiler cache, so their first call and compile
    time are warm: they are not recorded; the timed series are, in every round."""
    first = measured_metrics(capsys, 0)
    later = measured_metrics(capsys, 2)
    assert {"first_call_ms", "compile_s", "latency_ms_b1"} <= first
    assert "first_call_ms" not in later and "compile_s" not in later
    assert first - later == {"first_call_ms", "compile_s"}
