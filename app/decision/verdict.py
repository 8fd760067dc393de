"""The verdict from fired rules and constraints: grouped scores, the winner, how it was
decided, and a confidence that reflects decisiveness (rules/policy.yaml explains each).

Scoring and the sensitivity analysis (flips) both need these, so they live here and
neither of those modules imports the other.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from app.decision.rule_set import FRAMEWORKS, ConstraintRule, LoadedRule, Policy, RuleSet

LABELS = {"pytorch": "PyTorch", "tensorflow": "TensorFlow"}

GroupPoints = dict[str, dict[str, int]]


class Verdict(NamedTuple):  # a tuple: made on every request, and cheaper than a dataclass
    recommended: str
    decided_by: str  # "score" | "tie_break" | "constraint"
    scores: dict[str, int]
    confidence: float
    blocked: dict[str, tuple[str, ...]]  # framework -> targets it has no production path to


def group_points(fired: Iterable[LoadedRule]) -> GroupPoints:
    """Return each group's raw points per framework (before caps)."""
    raw: GroupPoints = {}
    for loaded in fired:
        group, p, t = loaded.tally
        bucket = raw.get(group)
        if bucket is None:
            raw[group] = {"pytorch": p, "tensorflow": t}
        else:
            bucket["pytorch"] += p
            bucket["tensorflow"] += t
    return raw


def capped_scores(policy: Policy, raw: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    """Return each framework's score: the sum over groups of its points, each group capped."""
    caps = policy.caps
    p = t = 0
    for group, points in raw.items():
        cap = caps[group]
        p += min(points.get("pytorch", 0), cap)
        t += min(points.get("tensorflow", 0), cap)
    return {"pytorch": p, "tensorflow": t}


def tally(rule_set: RuleSet, fired: Sequence[LoadedRule]) -> dict[str, int]:
    """Return each framework's capped score for the fired rules."""
    return capped_scores(rule_set.policy, group_points(fired))


def outcome(policy: Policy, scores: Mapping[str, int], constraints: Sequence[ConstraintRule]
            ) -> tuple[str, str]:
    """Return (recommended, decided_by) as `decide` does, without the confidence: cheap, for
    flips, which try many changed answers."""
    deciding = deciding_block(constraints)
    if deciding is not None:
        return _other(deciding), "constraint"
    p, t = scores["pytorch"], scores["tensorflow"]
    if p == t:
        return policy.tie_break, "tie_break"
    return ("pytorch" if p > t else "tensorflow"), "score"


def decide(policy: Policy, scores: Mapping[str, int], constraints: Sequence[ConstraintRule],
           raw: Mapping[str, Mapping[str, int]] | None = None,
           targets: Sequence[str] = ()) -> Verdict:
    """Return the verdict: a blocking constraint on one framework decides; else the points.
    `targets` are the team's deployment targets: when the recommended framework reaches every
    one of them only by a fragile path (a caution on each), the verdict is at most close."""
    blocked = {f: tuple(sorted({c.target for c in constraints
                                if c.framework == f and c.level == "blocking"}))
               for f in FRAMEWORKS}
    p, t = scores["pytorch"], scores["tensorflow"]
    by_score = policy.tie_break if p == t else ("pytorch" if p > t else "tensorflow")
    score_confidence = margin_confidence(policy, by_score, scores, raw or {})
    deciding = deciding_block(constraints)
    if deciding is not None:
        recommended = _other(deciding)
        decided_by = "constraint"
        confidence = policy.confidence.constraint
        if rests_on_assumption(constraints, deciding):
            confidence = min(confidence, policy.confidence.assumption_max)
        if recommended == by_score and p != t:
            confidence = max(confidence, score_confidence)
        if blocked[recommended]:  # blocked only by an assumption: weighed as a caution
            confidence -= policy.confidence.caution_penalty
    else:
        only_blocked = [f for f in FRAMEWORKS if blocked[f]]
        recommended = by_score
        decided_by = "tie_break" if p == t else "score"
        confidence = score_confidence
        if len(only_blocked) == 2:
            confidence = min(confidence, policy.confidence.both_blocked_max)
    if decided_by != "tie_break":
        cautions = [c for c in constraints if c.framework == recommended and c.level == "caution"]
        confidence = max(0.5, confidence - len(cautions) * policy.confidence.caution_penalty)
        if targets and set(targets) <= {c.target for c in cautions}:
            confidence = min(confidence, policy.confidence.close_max)
    return Verdict(recommended, decided_by, dict(scores), round(confidence, 4), blocked)


def rests_on_assumption(constraints: Sequence[ConstraintRule], blocked: str) -> bool:
    """Whether every blocking constraint on `blocked` holds only by an assumed answer."""
    return all(c.assumption for c in constraints
               if c.framework == blocked and c.level == "blocking")


def deciding_block(constraints: Sequence[ConstraintRule]) -> str | None:
    """Return the framework whose blocking constraints decide the verdict: the only one
    blocked, or, when both are, the only one blocked by a fact rather than by an assumed
    answer (an assumption cannot outweigh a fact); None when no block decides."""
    blocked = [f for f in FRAMEWORKS
               if any(c.framework == f and c.level == "blocking" for c in constraints)]
    if len(blocked) == 2:
        blocked = [f for f in blocked if not rests_on_assumption(constraints, f)]
    return blocked[0] if len(blocked) == 1 else None


def margin_confidence(policy: Policy, winner: str, scores: Mapping[str, int],
                      raw: Mapping[str, Mapping[str, int]]) -> float:
    """Return how decisive a points verdict is (rules/policy.yaml `confidence.explain`).

    confidence = 0.5 + 0.49 * strength * sqrt(share), where
    share = margin / (points in play + prior_points): how one-sided the points are, with a
    prior so that a lone point is not "all the evidence";
    strength = min(1, effective margin / decisive_margin): each group's lead for the winner,
    a group that leads by only one point (a slight edge) counting `slight_edge_weight`.
    """
    conf = policy.confidence
    loser = _other(winner)
    margin, total = scores[winner] - scores[loser], scores[winner] + scores[loser]
    if margin <= 0:
        return 0.5
    effective = 0.0
    for group, points in raw.items():
        cap = policy.groups[group].cap
        lead = min(points.get(winner, 0), cap) - min(points.get(loser, 0), cap)
        effective += lead * (conf.slight_edge_weight if abs(lead) == 1 else 1.0)
    strength = max(0.0, min(1.0, effective / conf.decisive_margin))
    share = margin / (total + conf.prior_points)
    return 0.5 + 0.49 * strength * math.sqrt(share)


def summary(verdict: Verdict, constraints: Sequence[ConstraintRule], target_labels: Mapping[str, str],
            raw: Mapping[str, Mapping[str, int]], policy: Policy, targets: Sequence[str]) -> str:
    """Return the verdict and how it was reached, in plain words."""
    name = LABELS[verdict.recommended]
    p, t = verdict.scores["pytorch"], verdict.scores["tensorflow"]
    points = f"PyTorch {p} – TensorFlow {t}"

    def blockers(framework: str) -> str:
        return "; ".join(_first_sentence(c.why) for c in constraints
                         if c.framework == framework and c.level == "blocking")

    if verdict.decided_by == "constraint":
        other = _other(verdict.recommended)
        text = (f"{name}, decided by a constraint rather than by points ({points}): "
                f"{blockers(other)}")
        if rests_on_assumption(constraints, other):
            text += (" That rests on a question you left unanswered, read as its usual answer: "
                     "answer it to settle the verdict.")
        elif verdict.blocked[verdict.recommended]:
            own = ", ".join(target_labels.get(x, x) for x in verdict.blocked[verdict.recommended])
            text += (f" {name}'s own block on {own} rests on a question you left unanswered "
                     f"({blockers(verdict.recommended)}): answer it before planning that target.")
        if verdict.scores[other] > verdict.scores[verdict.recommended] and len(targets) > 1:
            blocked = ", ".join(target_labels.get(x, x) for x in verdict.blocked[other])
            text += (f" If {blocked} can be planned separately, {LABELS[other]} leads on the rest "
                     f"({points}).")
        return text + _cautions(verdict.recommended, constraints)
    prefix = ""
    if all(verdict.blocked[f] for f in FRAMEWORKS):
        where = {f: ", ".join(target_labels.get(x, x) for x in verdict.blocked[f]) for f in FRAMEWORKS}
        prefix = (f"Neither framework reaches every target — PyTorch has no maintained production "
                  f"path to {where['pytorch']}, TensorFlow none to {where['tensorflow']}: plan those "
                  "targets separately. On the rest: ")
    if verdict.decided_by == "tie_break":
        why = ("Nothing in your answers separates the two" if p == 0 else
               "What favours each weighs the same after the group caps"
               + _strongest_each(raw, policy))
        return (prefix + f"Tie at {p} points each — {name} by tie-break. {why}; the tie-break "
                "is a lean, not a verdict.")
    text = prefix + f"{name}, {points} after each factor group's cap"
    text += _carried_by(verdict.recommended, raw, policy) + "."
    if verdict.confidence <= policy.confidence.close_max:
        text += " That is a lean, not a verdict: the points are close."
    return text + _cautions(verdict.recommended, constraints)


def _cautions(recommended: str, constraints: Sequence[ConstraintRule]) -> str:
    """Name each fragile path of the recommended framework (each lowers its confidence)."""
    return "".join(f" Caution: {_first_sentence(c.why)}" for c in constraints
                   if c.framework == recommended and c.level == "caution")


def _leads(framework: str, raw: Mapping[str, Mapping[str, int]], policy: Policy
           ) -> list[tuple[int, str]]:
    """Return (capped lead of `framework` over the other, group) for every group."""
    other = _other(framework)
    return [(min(points.get(framework, 0), policy.groups[group].cap)
             - min(points.get(other, 0), policy.groups[group].cap), group)
            for group, points in raw.items()]


def _carried_by(winner: str, raw: Mapping[str, Mapping[str, int]], policy: Policy) -> str:
    """Name the groups that carry the verdict and the loser's strongest one."""
    loser = _other(winner)
    leads = _leads(winner, raw, policy)
    ahead = [f"{policy.groups[g].label} (+{d})" for d, g in sorted(leads, reverse=True)[:2]
             if d > 0]
    behind = [f"{policy.groups[g].label} (+{-d})" for d, g in sorted(leads)[:1] if d < 0]
    text = f", carried by {' and '.join(ahead)}" if ahead else ""
    if behind:
        text += f"; {LABELS[loser]}'s strongest: {behind[0]}"
    return text


def _strongest_each(raw: Mapping[str, Mapping[str, int]], policy: Policy) -> str:
    """Name each framework's strongest group in a tie, e.g. " (PyTorch: Team skills +4;
    TensorFlow: Serving +3)"."""
    parts = []
    for framework in FRAMEWORKS:
        leads = [(lead, policy.groups[group].label) for lead, group in _leads(framework, raw, policy)
                 if lead > 0]
        if leads:
            lead, label = max(leads)
            parts.append(f"{LABELS[framework]}: {label} +{lead}")
    return f" ({'; '.join(parts)})" if parts else ""


def _first_sentence(text: str) -> str:
    head, dot, _ = text.partition(". ")
    return head + (dot.strip() or "")


def _other(framework: str) -> str:
    return "tensorflow" if framework == "pytorch" else "pytorch"
