"""The verdict from a set of fired rules: each framework's score, the winner, the confidence.

Scoring and the sensitivity analysis (flips) both need these, so they live here
and neither of those modules imports the other.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.decision.rule_set import FRAMEWORKS, LoadedRule, RuleSet


def tally(fired: Sequence[LoadedRule]) -> dict[str, int]:
    """Return each framework's score: the sum of the points its fired rules give it."""
    scores = dict.fromkeys(FRAMEWORKS, 0)
    for loaded in fired:
        for framework, points in loaded.rule.points.items():
            scores[framework] += points
    return scores


def decide(rule_set: RuleSet, scores: dict[str, int]) -> str:
    """Return the framework with the higher score; ties go to the policy's tie-break."""
    if scores["pytorch"] == scores["tensorflow"]:
        return rule_set.policy.tie_break
    return "pytorch" if scores["pytorch"] > scores["tensorflow"] else "tensorflow"


def confidence(scores: dict[str, int]) -> float:
    """Return 0.5 + 0.5 * |P - T| / (P + T): how one-sided the points are (rules/policy.yaml)."""
    total = scores["pytorch"] + scores["tensorflow"]
    if total == 0:
        return 0.5
    return round(0.5 + 0.5 * abs(scores["pytorch"] - scores["tensorflow"]) / total, 4)
