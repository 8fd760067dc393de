"""The measurement method (spec §5), shared by both workers.

Warm up (at least N calls and S seconds), then time until both a minimum sample
count and a minimum duration are reached; report p50/p90/p95/p99, mean, stdev,
n and the coefficient of variation, flagging CV >= 15% as noisy.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import replace

from probes.plan import Mode

NOISY_CV = 0.15
MIN_CAPPED_SAMPLES = 5  # a series cut short by Mode.max_seconds still has this many per round


def percentile(sorted_values: list[float], q: float) -> float:
    """Return the q-th percentile (0-100) by linear interpolation, like numpy's default."""
    if len(sorted_values) == 1:
        return sorted_values[0]
    pos = (len(sorted_values) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (pos - low)


def summarise(samples_s: list[float], scale: float = 1000.0) -> dict:
    """Return the stats block of a measurement from raw seconds (scaled, default to ms)."""
    values = sorted(s * scale for s in samples_s)
    mean = statistics.fmean(values)
    stdev = statistics.stdev(values) if len(values) > 1 else 0.0
    return {
        "p50": percentile(values, 50), "p90": percentile(values, 90),
        "p95": percentile(values, 95), "p99": percentile(values, 99),
        "mean": mean, "stdev": stdev, "n": len(values),
        "cv": stdev / mean if mean > 0 else 0.0, "total_s": sum(samples_s),
    }


def per_round(mode: Mode, rounds: int) -> Mode:
    """Return the sampling rules for one of `rounds` interleaved rounds: together the rounds
    take the mode's samples and seconds, so interleaving costs compile time, not sampling."""
    if rounds <= 1:
        return mode
    return replace(mode, min_samples=max(5, -(-mode.min_samples // rounds)),
                   min_seconds=mode.min_seconds / rounds,
                   max_seconds=None if mode.max_seconds is None else mode.max_seconds / rounds)


def in_unit(samples_s: list[float], scale: float = 1000.0) -> list[float]:
    """Return raw samples in the metric's unit, 4 significant digits (shorter JSON, and far
    finer than the noise), never zero so that ratios of them stay finite."""
    return [max(float(f"{s * scale:.4g}"), 1e-9) for s in samples_s]


def keep(samples: list[float], limit: int) -> list[float]:
    """Return every sample, or every k-th in time order when there are more than limit."""
    if len(samples) <= limit:
        return list(samples)
    stride = -(-len(samples) // limit)
    return list(samples[::stride])


def measure(fn: Callable[[], object], mode: Mode, sync: Callable[[], None] = lambda: None
            ) -> list[float]:
    """Return per-call wall times in seconds after warming up, per the mode's rules."""
    start = time.perf_counter()
    calls = 0
    cap = math.inf if mode.max_seconds is None else mode.max_seconds
    while calls < mode.warmup_calls or time.perf_counter() - start < mode.warmup_s:
        # A slow call (a first call that compiles, a 1 s training step) is warm after two.
        if calls >= 2 and time.perf_counter() - start >= cap:
            break
        fn()
        calls += 1
    sync()
    samples: list[float] = []
    begin = time.perf_counter()
    while len(samples) < mode.min_samples or time.perf_counter() - begin < mode.min_seconds:
        if len(samples) >= MIN_CAPPED_SAMPLES and time.perf_counter() - begin >= cap:
            break
        t0 = time.perf_counter()
        fn()
        sync()  # GPU work is asynchronous: wait for it before reading the clock
        samples.append(time.perf_counter() - t0)
    return samples


def timed(fn: Callable[[], object], sync: Callable[[], None] = lambda: None) -> tuple[object, float]:
    """Return (result, seconds) of one call: for cold numbers such as first call and compile."""
    t0 = time.perf_counter()
    result = fn()
    sync()
    return result, time.perf_counter() - t0
