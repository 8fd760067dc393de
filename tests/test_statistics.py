"""The comparison statistics on synthetic samples whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from app.decision.statistics import compare, verdict_for


def _draws(seed: int, median: float, n: int = 100, spread: float = 0.08) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(median * np.exp(rng.normal(0.0, spread, n)))


def test_a_ten_percent_faster_candidate_is_faster():
    result = compare(_draws(1, 10.0), _draws(2, 9.0))
    assert result.verdict == "faster"
    assert result.ci95[0] > 1.0 and 1.05 < result.ratio < 1.17


def test_a_ten_percent_slower_candidate_is_slower():
    assert compare(_draws(3, 9.0), _draws(4, 10.0)).verdict == "slower"


@pytest.mark.parametrize("seed", range(20))
def test_two_draws_from_one_distribution_are_never_faster_or_slower(seed):
    result = compare(_draws(seed, 5.0), _draws(seed + 100, 5.0))
    assert result.verdict in ("tie", "inconclusive")


def test_a_tight_equal_pair_is_a_tie():
    result = compare(_draws(7, 5.0, n=400, spread=0.02), _draws(8, 5.0, n=400, spread=0.02))
    assert result.verdict == "tie"


def test_few_noisy_samples_are_inconclusive():
    result = compare(_draws(9, 5.0, n=5, spread=0.5), _draws(10, 4.5, n=5, spread=0.5))
    assert result.verdict == "inconclusive"


def test_rates_count_higher_as_better():
    result = compare(_draws(11, 100.0), _draws(12, 120.0), higher_is_better=True)
    assert result.verdict == "faster" and result.ratio > 1.1


def test_a_burst_in_one_round_widens_the_interval_instead_of_deciding():
    # Three rounds each; one of the candidate's rounds ran while the machine was busy.
    base = [_draws(20 + i, 10.0, n=50) for i in range(3)]
    cand = [_draws(30, 10.0, n=50), _draws(31, 10.0, n=50), _draws(32, 14.0, n=50)]
    pooled = compare([x for r in base for x in r], [x for r in cand for x in r])
    by_round = compare(base, cand)
    assert by_round.verdict == "inconclusive"
    assert (by_round.ci95[1] - by_round.ci95[0]) > (pooled.ci95[1] - pooled.ci95[0])


def test_the_same_samples_give_the_same_interval():
    a, b = _draws(40, 3.0), _draws(41, 2.8)
    assert compare(a, b) == compare(a, b)


@pytest.mark.parametrize("bad", [[1.0, float("nan")], [1.0, 0.0], [], [1.0, -2.0], [float("inf")]])
def test_non_finite_or_non_positive_samples_are_refused(bad):
    with pytest.raises(ValueError):
        compare(bad, [1.0, 1.1])


@pytest.mark.parametrize(("low", "high", "verdict"), [
    (0.97, 1.04, "tie"), (1.06, 1.2, "faster"), (1.01, 1.08, "faster"), (0.8, 0.94, "slower"),
    (0.9, 1.1, "inconclusive"), (0.95, 1.05, "tie"),
])
def test_verdict_bands(low, high, verdict):
    assert verdict_for(low, high) == verdict
