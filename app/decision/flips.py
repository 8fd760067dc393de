"""Sensitivity: every single-answer change that would change the recommendation.

Only rules that read the changed question are re-evaluated, so the analysis
costs a few rule evaluations per alternative answer rather than a full re-score.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

from app.decision.measures import MeasureLookup
from app.decision.questionnaire import Answers, AnswerValue, Question
from app.decision.recommendation import Flip
from app.decision.rule_set import LoadedRule, RuleSet
from app.decision.verdict import decide, tally


def alternatives(question: Question, current: AnswerValue | None, thresholds: set[float]
                 ) -> Iterator[tuple[AnswerValue | None, str]]:
    """Yield (changed answer, change in words) for every valid single-answer change."""
    if question.type == "single":
        for value in question.values:
            if value != current:
                yield value, f"{current or 'unanswered'} -> {value}"
    elif question.type == "boolean":
        for value in (True, False):
            if value != current:
                yield value, f"{_word(current)} -> {_word(value)}"
    elif question.type == "multi":
        chosen = tuple(current or ())
        for value in question.values:
            if value in chosen:
                rest = tuple(v for v in chosen if v != value)
                if rest or not question.required:
                    yield (rest or None), f"remove {value}"
            elif value in question.exclusive:
                yield (value,), f"only {value}"
            else:
                added = tuple(sorted({*chosen, value} - set(question.exclusive)))
                if question.max_items is None or len(added) <= question.max_items:
                    yield added, f"add {value}"
    elif question.type == "number":
        yield from _number_alternatives(question, current, thresholds)
    if question.type != "multi" and current is not None and not question.required:
        yield None, "leave unanswered"


def _number_alternatives(question: Question, current: AnswerValue | None,
                         thresholds: set[float]) -> Iterator[tuple[AnswerValue | None, str]]:
    # Values on both sides of each threshold rules compare with are the only
    # ones that can change which rules fire.
    low = question.minimum if question.minimum is not None else -math.inf
    high = question.maximum if question.maximum is not None else math.inf
    for threshold in sorted(thresholds):
        step = 1.0 if question.integer else max(abs(threshold) * 0.01, 0.1)
        for value in (threshold - step, threshold, threshold + step):
            if low <= value <= high and value != current:
                number: int | float = int(value) if question.integer else round(value, 4)
                yield number, f"set to {number:g}"


def _word(value: AnswerValue | None) -> str:
    return "unanswered" if value is None else ("yes" if value else "no")


def find_flips(rule_set: RuleSet, answers: Answers, lookup: MeasureLookup | None,
               fired: Sequence[LoadedRule]) -> list[Flip]:
    """Return every single-answer change that changes the recommended framework."""
    base_scores = tally(fired)
    base_choice = decide(rule_set, base_scores)
    fired_ids = {id(r) for r in fired}
    plain = answers.plain
    flips: list[Flip] = []
    for question in rule_set.questionnaire.questions():
        indexes = rule_set.rules_by_question.get(question.id)
        if not indexes:
            continue
        # Only rules that read this question can change: their predicate, whether they
        # fired, and their points, prepared once per question.
        affected = [(rule_set.rules[i].condition.predicate, id(rule_set.rules[i]) in fired_ids,
                     rule_set.rules[i].rule.points) for i in indexes]
        thresholds = rule_set.thresholds.get(question.id, set())
        found: list[Flip] = []
        for value, change in alternatives(question, plain.get(question.id), thresholds):
            changed = dict(plain)
            if value is None:
                changed.pop(question.id, None)
            else:
                changed[question.id] = value
            pytorch, tensorflow = base_scores["pytorch"], base_scores["tensorflow"]
            for predicate, was, points in affected:
                if predicate(changed, lookup) != was:
                    sign = -1 if was else 1
                    pytorch += sign * points.get("pytorch", 0)
                    tensorflow += sign * points.get("tensorflow", 0)
            scores = {"pytorch": pytorch, "tensorflow": tensorflow}
            choice = decide(rule_set, scores)
            if choice != base_choice:
                answer = list(value) if isinstance(value, tuple) else value
                found.append(Flip(question=question.id, answer=answer, change=change,
                                  recommended=choice, scores=scores))
        flips.extend(_nearest_numbers(question, plain.get(question.id), found))
    return flips


def _nearest_numbers(question: Question, current: AnswerValue | None, found: list[Flip]
                     ) -> list[Flip]:
    """For number questions keep the nearest flipping value below and above the answer."""
    if question.type != "number" or current is None:
        return found
    below = [f for f in found if f.answer is not None and f.answer < current]
    above = [f for f in found if f.answer is not None and f.answer > current]
    kept = [f for f in found if f.answer is None]
    if below:
        kept.append(max(below, key=lambda f: f.answer))
    if above:
        kept.append(min(above, key=lambda f: f.answer))
    return kept
