"""Sensitivity: the plausible single-answer changes that would change the recommendation.

Only rules that read the changed question are re-evaluated, and group sums are adjusted
rather than recomputed, so the analysis costs a few rule evaluations per alternative
answer rather than a full re-score. Constraints are re-checked when the changed question
is one they read. Changes a team cannot plausibly make for this decision (its role, its
model family, adding a deployment target it does not have) are left out by policy
(rules/policy.yaml `flips`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from app.decision.measures import MeasureLookup
from app.decision.questionnaire import Answers, AnswerValue, Question
from app.decision.recommendation import Flip
from app.decision.rule_set import FRAMEWORKS, LoadedRule, RuleSet
from app.decision.verdict import LABELS, Verdict, capped_scores, decide, group_points, winner


class Alternative(NamedTuple):
    value: AnswerValue | None
    change: str  # machine-readable, e.g. "add mobile_android"
    text: str  # the change in the questionnaire's words


def alternatives(question: Question, current: AnswerValue | None, thresholds: set[float],
                 only_remove: bool = False, offer_unanswered: bool = False
                 ) -> Iterator[Alternative]:
    """Yield every valid single-answer change of one question."""
    noun = question.short or question.label
    if question.type == "single":
        for value in question.values:
            if value != current:
                was = f" instead of {question.label_of(current)}" if current else ""
                yield Alternative(value, f"{current or 'unanswered'} -> {value}",
                                  f"If {noun} were {question.label_of(value)}{was}")
    elif question.type == "boolean":
        for value in (True, False):
            if value != current:
                yield Alternative(value, f"{_word(current)} -> {_word(value)}",
                                  f"If the answer to “{question.label}” were {_word(value)}")
    elif question.type == "multi":
        yield from _multi_alternatives(question, current, noun, only_remove)
    elif question.type == "number":
        yield from _number_alternatives(question, current, thresholds, noun)
    if offer_unanswered and question.type != "multi" and current is not None and not question.required:
        yield Alternative(None, "leave unanswered", f"If {noun} were left unanswered")


def _multi_alternatives(question: Question, current: AnswerValue | None, noun: str,
                        only_remove: bool) -> Iterator[Alternative]:
    chosen = tuple(current or ())  # type: ignore[arg-type]
    for value in question.values:
        label = question.label_of(value)
        if value in chosen:
            rest = tuple(v for v in chosen if v != value)
            if rest:
                yield Alternative(rest or None, f"remove {value}",
                                  f"If you dropped {label} from {noun}")
        elif only_remove:
            continue
        elif value in question.exclusive:
            yield Alternative((value,), f"only {value}", f"If {noun} were only {label}")
        else:
            added = tuple(sorted({*chosen, value} - set(question.exclusive)))
            if question.max_items is None or len(added) <= question.max_items:
                yield Alternative(added, f"add {value}", f"If you added {label} to {noun}")


def _number_alternatives(question: Question, current: AnswerValue | None,
                         thresholds: set[float], noun: str) -> Iterator[Alternative]:
    # Values on both sides of each threshold rules compare with are the only
    # ones that can change which rules fire.
    low = question.minimum if question.minimum is not None else -math.inf
    high = question.maximum if question.maximum is not None else math.inf
    for threshold in sorted(thresholds):
        step = 1.0 if question.integer else max(abs(threshold) * 0.01, 0.1)
        for value in (threshold - step, threshold, threshold + step):
            if low <= value <= high and value != current:
                number: int | float = int(value) if question.integer else round(value, 4)
                yield Alternative(number, f"set to {number:g}", f"If {noun} were {number:g}")


def _word(value: AnswerValue | None) -> str:
    return "unanswered" if value is None else ("yes" if value else "no")


def find_flips(rule_set: RuleSet, answers: Answers, lookup: MeasureLookup | None,
               fired: Sequence[LoadedRule], base: Verdict) -> list[Flip]:
    """Return every plausible single-answer change that changes the recommended framework."""
    policy = rule_set.policy
    base_raw = group_points(fired)
    base_scores = capped_scores(policy, base_raw)
    fired_ids = {id(r) for r in fired}
    plain = answers.plain
    base_constraints = [c.rule for c in rule_set.constraints if c.condition.predicate(plain, None)]
    flips: list[Flip] = []
    for question in rule_set.questionnaire.questions():
        if question.id in policy.flips.fixed:
            continue
        indexes = rule_set.rules_by_question.get(question.id, [])
        reads_constraints = question.id in rule_set.constraint_questions
        if not indexes and not reads_constraints:
            continue
        # Only rules that read this question can change: their predicate, whether they
        # fired, their group and points, prepared once per question.
        affected = [(rule_set.rules[i].condition.predicate, id(rule_set.rules[i]) in fired_ids,
                     rule_set.rules[i].rule.group, rule_set.rules[i].rule.points) for i in indexes]
        thresholds = rule_set.thresholds.get(question.id, set())
        found: list[Flip] = []
        only_remove = question.id in policy.flips.only_remove
        for alt in alternatives(question, plain.get(question.id), thresholds, only_remove,
                                policy.flips.offer_unanswered):
            changed = dict(plain)
            if alt.value is None:
                changed.pop(question.id, None)
            else:
                changed[question.id] = alt.value
            delta: dict[str, dict[str, int]] = {}
            for predicate, was, group, points in affected:
                if predicate(changed, lookup) != was:
                    sign = -1 if was else 1
                    bucket = delta.setdefault(group, dict.fromkeys(FRAMEWORKS, 0))
                    for framework, value in points.items():
                        bucket[framework] += sign * value
            if not delta and not reads_constraints:
                continue  # nothing that decides can have changed
            constraints = base_constraints
            if reads_constraints:
                constraints = [c.rule for c in rule_set.constraints
                               if c.condition.predicate(changed, None)]
            # Only the groups that changed are re-capped; the rest keep their base share.
            scores = dict(base_scores)
            for group, change in delta.items():
                cap = policy.groups[group].cap
                before = base_raw.get(group, {})
                for framework in FRAMEWORKS:
                    old = before.get(framework, 0)
                    scores[framework] += min(old + change[framework], cap) - min(old, cap)
            if winner(policy, scores, constraints) == base.recommended:
                continue
            raw = {g: dict(p) for g, p in base_raw.items()}
            for group, change in delta.items():
                bucket = raw.setdefault(group, dict.fromkeys(FRAMEWORKS, 0))
                for framework in FRAMEWORKS:
                    bucket[framework] += change[framework]
            verdict = decide(policy, scores, constraints, raw)
            answer = list(alt.value) if isinstance(alt.value, tuple) else alt.value
            found.append(Flip(question=question.id, answer=answer, change=alt.change,
                              text=_sentence(alt.text, verdict), recommended=verdict.recommended,
                              decided_by=verdict.decided_by, scores=verdict.scores))
        flips.extend(_nearest_numbers(question, plain.get(question.id), found))
    return flips


def _sentence(change: str, verdict: Verdict) -> str:
    name = LABELS[verdict.recommended]
    other = "tensorflow" if verdict.recommended == "pytorch" else "pytorch"
    points = (f"{name} {verdict.scores[verdict.recommended]} – "
              f"{LABELS[other]} {verdict.scores[other]}")
    if verdict.decided_by == "constraint":
        return f"{change}: {name}, because {LABELS[other]} could not reach a target ({points})"
    if verdict.decided_by == "tie_break":
        return f"{change}: a tie ({points}), {name} by tie-break"
    return f"{change}: {points}"


def _nearest_numbers(question: Question, current: AnswerValue | None, found: list[Flip]
                     ) -> list[Flip]:
    """For number questions keep the nearest flipping value below and above the answer
    (for an unanswered one, the smallest value per outcome)."""
    if question.type != "number":
        return found
    if current is None:
        smallest: dict[tuple, Flip] = {}
        for flip in sorted(found, key=lambda f: f.answer):
            smallest.setdefault((flip.recommended, tuple(flip.scores.items())), flip)
        return list(smallest.values())
    below = [f for f in found if f.answer is not None and f.answer < current]
    above = [f for f in found if f.answer is not None and f.answer > current]
    kept = [f for f in found if f.answer is None]
    if below:
        kept.append(max(below, key=lambda f: f.answer))
    if above:
        kept.append(min(above, key=lambda f: f.answer))
    return kept
