"""Comparisons a skeptic accepts: ratio of medians, a bootstrap 95% interval, and a verdict.

Every comparison the evidence makes (a variant over another, one framework over the
other, one machine over another) goes through `compare`. The ratio is oriented so that
a value above 1 means the candidate is better: for times (lower is better) it is
median(baseline) / median(candidate), for rates (higher is better) the inverse.

Verdicts (spec §5):
- `tie`: the whole interval lies within ±5% of no change;
- `faster` / `slower`: the interval excludes no change and is not a tie;
- `inconclusive`: the interval straddles no change without being a tie.

Samples may come in rounds (one list per fresh subprocess). Then the bootstrap
resamples rounds first and samples within each chosen round, so a burst of load that
hit one round widens the interval instead of hiding in the pooled samples.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

Verdict = Literal["faster", "slower", "tie", "inconclusive"]
TIE_BAND = 0.05
RESAMPLES = 2000
CONFIDENCE = 0.95

Rounds = Sequence[Sequence[float]]


@dataclass(frozen=True)
class Comparison:
    """One comparison: candidate over baseline, >1 meaning the candidate is better."""

    ratio: float
    ci95: tuple[float, float]
    verdict: Verdict
    n_baseline: int
    n_candidate: int

    def to_dict(self) -> dict:
        return {"ratio": self.ratio, "ci95": list(self.ci95), "verdict": self.verdict,
                "n_baseline": self.n_baseline, "n_candidate": self.n_candidate}


def verdict_for(low: float, high: float, band: float = TIE_BAND) -> Verdict:
    """Return the verdict for an interval on a better-is-above-1 ratio."""
    if low >= 1.0 - band and high <= 1.0 + band:
        return "tie"
    if low > 1.0:
        return "faster"
    if high < 1.0:
        return "slower"
    return "inconclusive"


def _as_rounds(samples: Sequence[float] | Rounds) -> list[np.ndarray]:
    if len(samples) and isinstance(samples[0], Sequence | np.ndarray):
        rounds = [np.asarray(r, dtype=float) for r in samples]  # type: ignore[arg-type]
    else:
        rounds = [np.asarray(samples, dtype=float)]
    rounds = [r for r in rounds if r.size]
    for r in rounds:
        if not np.all(np.isfinite(r)) or np.any(r <= 0):
            raise ValueError("samples must be finite and positive")
    if not rounds:
        raise ValueError("no samples to compare")
    return rounds


def _seed(*parts: np.ndarray) -> int:
    # Deterministic per data set: the same samples always give the same interval.
    digest = hashlib.sha256(b"".join(p.tobytes() for p in parts)).digest()
    return int.from_bytes(digest[:8], "little")


def _bootstrap_medians(rounds: list[np.ndarray], rng: np.random.Generator,
                       resamples: int) -> np.ndarray:
    if len(rounds) == 1:
        data = rounds[0]
        picks = rng.integers(0, data.size, size=(resamples, data.size))
        return np.median(data[picks], axis=1)
    # Two levels: choose rounds with replacement, then samples within each chosen round.
    medians = np.empty(resamples)
    chosen = rng.integers(0, len(rounds), size=(resamples, len(rounds)))
    for i in range(resamples):
        parts = [rounds[j][rng.integers(0, rounds[j].size, size=rounds[j].size)] for j in chosen[i]]
        medians[i] = np.median(np.concatenate(parts))
    return medians


def compare(baseline: Sequence[float] | Rounds, candidate: Sequence[float] | Rounds, *,
            higher_is_better: bool = False, resamples: int = RESAMPLES) -> Comparison:
    """Return candidate-over-baseline as a ratio of medians with a bootstrap 95% interval."""
    base_rounds, cand_rounds = _as_rounds(baseline), _as_rounds(candidate)
    base_all, cand_all = np.concatenate(base_rounds), np.concatenate(cand_rounds)
    rng = np.random.default_rng(_seed(base_all, cand_all))
    base_m = _bootstrap_medians(base_rounds, rng, resamples)
    cand_m = _bootstrap_medians(cand_rounds, rng, resamples)
    point_base, point_cand = float(np.median(base_all)), float(np.median(cand_all))
    if higher_is_better:
        ratios, ratio = cand_m / base_m, point_cand / point_base
    else:
        ratios, ratio = base_m / cand_m, point_base / point_cand
    tail = (1.0 - CONFIDENCE) / 2 * 100
    low, high = (float(x) for x in np.percentile(ratios, [tail, 100 - tail]))
    return Comparison(ratio=_round(ratio), ci95=(_round(low), _round(high)),
                      verdict=verdict_for(low, high), n_baseline=int(base_all.size),
                      n_candidate=int(cand_all.size))


def _round(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("ratio is not finite")
    return float(f"{value:.4g}")
