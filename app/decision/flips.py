"""Sensitivity: the plausible single-answer changes that would change the recommendation.

Only rules that read the changed question are re-evaluated, and group sums are adjusted
rather than recomputed, so the analysis costs a few rule evaluations per alternative
answer rather than a full re-score. Constraints are re-checked only when the changed
question is one they read. Changes a team cannot plausibly make for this decision (its
role, its model family, adding a deployment target it does not have) are left out by
policy (rules/policy.yaml `flips`).

This runs on every request that misses the memo, so the per-question data is prepared
once per rule set and an alternative is put into words only when it flips the verdict.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from app.decision.conditions import Predicate
from app.decision.measures import MeasureLookup
from app.decision.questionnaire import Answers, AnswerValue, Question
from app.decision.recommendation import Flip
from app.decision.rule_set import FRAMEWORKS, LoadedRule, RuleSet
from app.decision.verdict import LABELS, Verdict, capped_scores, group_points, outcome


class Alternative(NamedTuple):
    value: AnswerValue | None
    kind: str  # "set" | "add" | "remove" | "only" | "unanswered"
    option: str | None  # the option added, removed or made the only one (multi questions)

    def change(self, current: AnswerValue | None) -> str:
        """Return the change, machine-readable, e.g. "add mobile_android"."""
        if self.kind in ("add", "remove", "only"):
            return f"{self.kind} {self.option}"
        if self.kind == "unanswered":
            return "leave unanswered"
        if isinstance(self.value, bool):
            return f"{_word(current)} -> {_word(self.value)}"  # type: ignore[arg-type]
        if isinstance(self.value, (int, float)):
            return f"set to {self.value:g}"
        return f"{current or 'unanswered'} -> {self.value}"

    def text(self, question: Question, current: AnswerValue | None) -> str:
        """Return the change in the questionnaire's words."""
        noun = question.short or question.label
        if self.kind == "unanswered":
            return f"If {noun} were left unanswered"
        if self.kind != "set":
            label = question.label_of(self.option or "")
            return {"add": f"If you added {label} to {noun}",
                    "remove": f"If you dropped {label} from {noun}",
                    "only": f"If {noun} were only {label}"}[self.kind]
        if question.type == "boolean":
            return f"If the answer to “{question.label}” were {_word(self.value)}"  # type: ignore[arg-type]
        if question.type == "number":
            return f"If {noun} were {self.value:g}"
        was = f" instead of {question.label_of(current)}" if current else ""  # type: ignore[arg-type]
        return f"If {noun} were {question.label_of(self.value)}{was}"  # type: ignore[arg-type]


def alternatives(question: Question, current: AnswerValue | None, thresholds: Sequence[float],
                 only_remove: bool = False, offer_unanswered: bool = False
                 ) -> Iterator[Alternative]:
    """Yield every valid single-answer change of one question."""
    if question.type == "single":
        for value in question.values:
            if value != current:
                yield Alternative(value, "set", None)
    elif question.type == "boolean":
        for value in (True, False):
            if value != current:
                yield Alternative(value, "set", None)
    elif question.type == "multi":
        yield from _multi_alternatives(question, current, only_remove)
    elif question.type == "number":
        yield from _number_alternatives(question, current, thresholds)
    if offer_unanswered and question.type != "multi" and current is not None and not question.required:
        yield Alternative(None, "unanswered", None)


def _multi_alternatives(question: Question, current: AnswerValue | None, only_remove: bool
                        ) -> Iterator[Alternative]:
    chosen = tuple(current or ())  # type: ignore[arg-type]
    for value in question.values:
        if value in chosen:
            rest = tuple(v for v in chosen if v != value)
            if rest:
                yield Alternative(rest, "remove", value)
        elif only_remove:
            continue
        elif value in question.exclusive:
            yield Alternative((value,), "only", value)
        else:
            added = tuple(sorted({*chosen, value} - set(question.exclusive)))
            if question.max_items is None or len(added) <= question.max_items:
                yield Alternative(added, "add", value)


def _number_alternatives(question: Question, current: AnswerValue | None,
                         thresholds: Sequence[float]) -> Iterator[Alternative]:
    # Values on both sides of each threshold rules compare with are the only
    # ones that can change which rules fire.
    low = question.minimum if question.minimum is not None else -math.inf
    high = question.maximum if question.maximum is not None else math.inf
    for threshold in thresholds:
        step = 1.0 if question.integer else max(abs(threshold) * 0.01, 0.1)
        for value in (threshold - step, threshold, threshold + step):
            if low <= value <= high and value != current:
                number: int | float = int(value) if question.integer else round(value, 4)
                yield Alternative(number, "set", None)


def _word(value: bool | None) -> str:
    return "unanswered" if value is None else ("yes" if value else "no")


@dataclass(frozen=True)
class _FlipQuestion:
    """What flips need of one question, prepared once per rule set.

    Rules and constraints are indexed by the answer values their tests name, so a change
    re-evaluates only those that name a value entering or leaving the answer (and those
    that read the answer whole: `answered`, comparisons)."""

    question: Question
    rules: tuple[tuple[int, Predicate, str, tuple[tuple[str, int], ...]], ...]  # index, test, group, points
    measured: tuple[bool, ...]  # per position in `rules`: conditioned on probe numbers
    rules_always: frozenset[int]  # positions in `rules`
    rules_by_value: dict[Any, frozenset[int]]
    constraints: tuple[tuple[int, Predicate], ...]  # (index in rule_set.constraints, test)
    constraints_always: frozenset[int]  # positions in `constraints`
    constraints_by_value: dict[Any, frozenset[int]]
    thresholds: tuple[float, ...]
    only_remove: bool
    offer_unanswered: bool
    # current answer -> its changes, for choice and boolean answers (a few hundred at most per
    # question: bounded by the questionnaire's options, never by requests); a number
    # question's changes are the same for every answer (its tests read it whole), kept once.
    _changes: dict[Any, tuple[Change, ...]] = field(default_factory=dict, compare=False)

    def changes(self, current: AnswerValue | None) -> tuple[Change, ...]:
        """Return the single-answer changes from `current` that some test can notice."""
        number = self.question.type == "number"
        key = "any number" if number else current
        found = self._changes.get(key)
        if found is None:
            found = tuple(self._change(current, alt) for alt in alternatives(
                self.question, None if number else current, self.thresholds,
                self.only_remove, self.offer_unanswered))
            found = tuple(c for c in found if c.rules or c.constraints)
            self._changes[key] = found
        if number:
            kept = tuple(c for c in found if c.alternative.value != current)
            if self.offer_unanswered and current is not None and not self.question.required:
                kept += (self._change(current, Alternative(None, "unanswered", None)),)
            return kept
        return found

    def _change(self, current: AnswerValue | None, alt: Alternative) -> Change:
        values = _changed_values(current, alt.value)
        rules, constraints = self.rules_always, self.constraints_always
        for value in values:
            rules = rules | self.rules_by_value.get(value, frozenset())
            constraints = constraints | self.constraints_by_value.get(value, frozenset())
        return Change(alt, tuple(sorted(rules)), tuple(sorted(constraints)))


class Change(NamedTuple):
    alternative: Alternative
    rules: tuple[int, ...]  # positions in _FlipQuestion.rules this change can affect
    constraints: tuple[int, ...]  # positions in _FlipQuestion.constraints


def _changed_values(before: AnswerValue | None, after: AnswerValue | None) -> set[Any]:
    """Return the values that enter or leave the answer."""
    if isinstance(before, tuple) or isinstance(after, tuple):
        return set(before or ()) ^ set(after or ())  # type: ignore[arg-type]
    return {before, after}


def _index(mentions: list[frozenset[Any] | None]) -> tuple[frozenset[int], dict[Any, frozenset[int]]]:
    always = frozenset(i for i, m in enumerate(mentions) if m is None)
    by_value: dict[Any, set[int]] = {}
    for i, named in enumerate(mentions):
        for value in named or ():
            by_value.setdefault(value, set()).add(i)
    return always, {v: frozenset(i) for v, i in by_value.items()}


def _prepared(rule_set: RuleSet) -> tuple[_FlipQuestion, ...]:
    found = rule_set.derived.get("flips")
    if found is not None:
        return found
    policy = rule_set.policy
    out = []
    for question in rule_set.questionnaire.questions():
        if question.id in policy.flips.fixed:
            continue
        qid = question.id
        rule_indexes = rule_set.rules_by_question.get(qid, [])
        rules = tuple((i, rule_set.rules[i].condition.predicate, rule_set.rules[i].rule.group,
                       tuple(rule_set.rules[i].rule.points.items())) for i in rule_indexes)
        constraints = [(i, c) for i, c in enumerate(rule_set.constraints)
                       if qid in c.condition.questions]
        if not rules and not constraints:
            continue
        rules_always, rules_by_value = _index(
            [rule_set.rules[i].condition.mentions.get(qid) for i in rule_indexes])
        constraints_always, constraints_by_value = _index(
            [c.condition.mentions.get(qid) for _, c in constraints])
        out.append(_FlipQuestion(
            question, rules, tuple(bool(rule_set.rules[i].condition.measures) for i in rule_indexes),
            rules_always, rules_by_value,
            tuple((i, c.condition.predicate) for i, c in constraints), constraints_always,
            constraints_by_value, tuple(sorted(rule_set.thresholds.get(qid, ()))),
            qid in policy.flips.only_remove, policy.flips.offer_unanswered))
    prepared = tuple(out)
    rule_set.derived["flips"] = prepared
    return prepared


def find_flips(rule_set: RuleSet, answers: Answers, lookup: MeasureLookup | None,
               fired: Sequence[LoadedRule], base: Verdict,
               more_lookups: Sequence[MeasureLookup] = ()) -> list[Flip]:
    """Return every plausible single-answer change that changes the recommended framework.
    With `more_lookups` (several machines), a measured rule holds when it holds on any."""
    policy = rule_set.policy
    caps = {group_id: group.cap for group_id, group in policy.groups.items()}
    base_raw = group_points(fired)
    base_scores = capped_scores(policy, base_raw)
    fired_ids = {id(r) for r in fired}
    plain = answers.plain
    base_holds = [c.condition.predicate(plain, None) for c in rule_set.constraints]
    base_constraints = [c.rule for c, holds in zip(rule_set.constraints, base_holds, strict=True) if holds]
    changed = dict(plain)  # one scratch copy; each question's answer is restored after it
    flips: list[Flip] = []
    for prepared in _prepared(rule_set):
        question = prepared.question
        qid = question.id
        current = plain.get(qid)
        was_fired = [id(rule_set.rules[i]) in fired_ids for i, _, _, _ in prepared.rules]
        found: list[Flip] = []
        for alt, rule_positions, constraint_positions in prepared.changes(current):
            if alt.value is None:
                changed.pop(qid, None)
            else:
                changed[qid] = alt.value
            delta: dict[str, dict[str, int]] = {}
            for position in rule_positions:
                _, test, group, points = prepared.rules[position]
                was = was_fired[position]
                holds = test(changed, lookup)
                if more_lookups and not holds and prepared.measured[position]:
                    holds = any(test(changed, more) for more in more_lookups)
                if holds != was:
                    sign = -1 if was else 1
                    bucket = delta.setdefault(group, dict.fromkeys(FRAMEWORKS, 0))
                    for framework, value in points:
                        bucket[framework] += sign * value
            constraints = base_constraints
            for position in constraint_positions:
                index, test = prepared.constraints[position]
                if test(changed, None) != base_holds[index]:
                    constraints = [c.rule for c in rule_set.constraints
                                   if c.condition.predicate(changed, None)]
                    break
            else:
                if not delta:
                    continue  # nothing that decides has changed
            # Only the groups that changed are re-capped; the rest keep their base share.
            scores = dict(base_scores)
            for group, change in delta.items():
                cap = caps[group]
                before = base_raw.get(group, {})
                for framework in FRAMEWORKS:
                    old = before.get(framework, 0)
                    scores[framework] += min(old + change[framework], cap) - min(old, cap)
            recommended, decided_by = outcome(policy, scores, constraints)
            if recommended == base.recommended:
                continue
            answer = list(alt.value) if isinstance(alt.value, tuple) else alt.value
            found.append(Flip(question=qid, answer=answer, change=alt.change(current),
                              text=_sentence(alt.text(question, current), recommended,
                                             decided_by, scores),
                              recommended=recommended, decided_by=decided_by, scores=scores))
        if current is None:
            changed.pop(qid, None)
        else:
            changed[qid] = current
        flips.extend(_nearest_numbers(question, current, found))
    return flips
def _sentence(change: str, recommended: str, decided_by: str, scores: dict[str, int]) -> str:
    name = LABELS[recommended]
    other = "tensorflow" if recommended == "pytorch" else "pytorch"
    points = f"{name} {scores[recommended]} – {LABELS[other]} {scores[other]}"
    if decided_by == "constraint":
        return f"{change}: {name}, because {LABELS[other]} could not reach a target ({points})"
    if decided_by == "tie_break":
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
