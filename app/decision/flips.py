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
from app.decision.recommendation_json import SharedJson, shared_json
from app.decision.rule_set import FRAMEWORKS, LoadedRule, RuleSet
from app.decision.verdict import LABELS, GroupPoints, Verdict, group_points, outcome


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
    rule_ids: tuple[int, ...]  # per position in `rules`: id() of the loaded rule
    measured: tuple[bool, ...]  # per position in `rules`: conditioned on probe numbers
    rules_always: frozenset[int]  # positions in `rules`
    rules_by_value: dict[Any, frozenset[int]]
    constraints: tuple[tuple[int, Predicate], ...]  # (index in rule_set.constraints, test)
    constraints_always: frozenset[int]  # positions in `constraints`
    constraints_by_value: dict[Any, frozenset[int]]
    # framework -> per position in `rules`: how much that framework's lead over the other can
    # shrink if the rule starts to hold (first) or stops holding (second)
    losses: dict[str, tuple[tuple[int, ...], tuple[int, ...]]]
    thresholds: tuple[float, ...]
    only_remove: bool
    offer_unanswered: bool
    only_when_unanswered: bool
    not_offered_when: Predicate | None  # policy flips.not_offered_when for this question
    # current answer -> its changes, for choice and boolean answers (a few hundred at most per
    # question: bounded by the questionnaire's options, never by requests). A number
    # question's tests read it whole, so its changes are the same for every answer but the
    # one it equals (left out) and "unanswered" (offered for an answered optional one): kept
    # per (the alternative it equals or None, whether unanswered is offered).
    _changes: dict[Any, Changes] = field(default_factory=dict, compare=False)

    def changes(self, current: AnswerValue | None) -> Changes:
        """Return the single-answer changes from `current` that some test can notice."""
        if self.only_when_unanswered and current is not None:
            return _NO_CHANGES
        if self.question.type != "number":
            found = self._changes.get(current)
            if found is None:
                found = self._changes[current] = _changes_of(self._changes_from(current))
            return found
        every = self._changes.get("every number")
        if every is None:
            every = self._changes["every number"] = _changes_of(self._changes_from(None))
        equal = next((c.alternative.value for c in every.all if c.alternative.value == current),
                     None)
        unanswered = (self.offer_unanswered and current is not None
                      and not self.question.required)
        key = ("number", equal, unanswered)
        found = self._changes.get(key)
        if found is None:
            kept = [c for c in every.all if equal is None or c.alternative.value != equal]
            if unanswered:  # any current will do: the tests read the answer whole
                kept.append(self._change(current, Alternative(None, "unanswered", None)))
            found = self._changes[key] = _changes_of(kept)
        return found

    def _changes_from(self, current: AnswerValue | None) -> list[Change]:
        made = [self._change(current, alt) for alt in alternatives(
            self.question, current, self.thresholds, self.only_remove,
            self.offer_unanswered and self.question.type != "number")]
        return [c for c in made if c.rules or c.constraints]

    def _change(self, current: AnswerValue | None, alt: Alternative) -> Change:
        values = _changed_values(current, alt.value)
        rules, constraints = self.rules_always, self.constraints_always
        for value in values:
            rules = rules | self.rules_by_value.get(value, frozenset())
            constraints = constraints | self.constraints_by_value.get(value, frozenset())
        swing = sum(abs(points) for position in rules for _, points in self.rules[position][3])
        return Change(alt, tuple(sorted(rules)), tuple(sorted(constraints)), swing)


class Change(NamedTuple):
    alternative: Alternative
    rules: tuple[int, ...]  # positions in _FlipQuestion.rules this change can affect
    constraints: tuple[int, ...]  # positions in _FlipQuestion.constraints
    # The most the change can move PyTorch's score minus TensorFlow's: every rule it can
    # affect toggling at once (a cap only ever shrinks a change, never grows it).
    swing: int


class Changes(NamedTuple):
    all: tuple[Change, ...]  # in the order flips are reported
    # (position in `all`, change): those that can change a constraint's result, in order;
    # then the others, largest swing first, so a scan can stop at the first that is too small
    constrained: tuple[tuple[int, Change], ...]
    by_swing: tuple[tuple[int, Change], ...]


_NO_CHANGES = Changes((), (), ())


def _changes_of(changes: Sequence[Change]) -> Changes:
    numbered = list(enumerate(changes))
    return Changes(tuple(changes), tuple((i, c) for i, c in numbered if c.constraints),
                   tuple(sorted(((i, c) for i, c in numbered if not c.constraints),
                                key=lambda item: -item[1].swing)))


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


def _losses(points: list[dict[str, int]]) -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
    # A cap never makes a change bigger: min(old + d, cap) - min(old, cap) lies between 0 and d.
    out = {}
    for framework in FRAMEWORKS:
        other = next(f for f in FRAMEWORKS if f != framework)
        starts = tuple(max(-p.get(framework, 0), 0) + max(p.get(other, 0), 0) for p in points)
        stops = tuple(max(p.get(framework, 0), 0) + max(-p.get(other, 0), 0) for p in points)
        out[framework] = (starts, stops)
    return out


def prepare_flips(rule_set: RuleSet) -> tuple[_FlipQuestion, ...]:
    """Return the per-question tables flips are found with, built once per rule set."""
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
        # A number question's changes are prepared once for every answer, so its tests are
        # all re-evaluated on every change (an `equals` on a number names the answer it leaves).
        whole = question.type == "number"
        rules_always, rules_by_value = _index(
            [None if whole else rule_set.rules[i].condition.mentions.get(qid)
             for i in rule_indexes])
        constraints_always, constraints_by_value = _index(
            [None if whole else c.condition.mentions.get(qid) for _, c in constraints])
        out.append(_FlipQuestion(
            question, rules, tuple(id(rule_set.rules[i]) for i in rule_indexes),
            tuple(bool(rule_set.rules[i].condition.measures) for i in rule_indexes),
            rules_always, rules_by_value,
            tuple((i, c.condition.predicate) for i, c in constraints), constraints_always,
            constraints_by_value, _losses([dict(points) for _, _, _, points in rules]),
            tuple(sorted(rule_set.thresholds.get(qid, ()))),
            qid in policy.flips.only_remove, policy.flips.offer_unanswered,
            qid in policy.flips.only_when_unanswered,
            rule_set.flip_exclusions[qid].predicate if qid in rule_set.flip_exclusions else None))
    # Threads may race to prepare it: every caller gets the one that was stored first.
    return rule_set.derived.setdefault("flips", tuple(out))


def find_flips(rule_set: RuleSet, answers: Answers, lookup: MeasureLookup | None,
               fired: Sequence[LoadedRule], base: Verdict,
               more_lookups: Sequence[MeasureLookup] = (),
               base_raw: GroupPoints | None = None,
               base_holds: Sequence[bool] | None = None) -> list[Flip]:
    """Return every plausible single-answer change that changes the recommended framework.
    With `more_lookups` (several machines), a measured rule holds when it holds on any.
    `base_raw` (group_points(fired)) and `base_holds` (whether each constraint holds) save
    the work when the caller has them already."""
    policy = rule_set.policy
    caps = policy.caps
    base_raw = group_points(fired) if base_raw is None else base_raw
    base_scores = base.scores
    fired_ids = {id(r) for r in fired}
    plain = answers.plain
    if base_holds is None:
        base_holds = [c.condition.predicate(plain, None) for c in rule_set.constraints]
    base_constraints = [c.rule for c, holds in zip(rule_set.constraints, base_holds, strict=True) if holds]
    # With the constraints unchanged, a change flips a points verdict only if it shrinks the
    # winner's lead to nothing (to a tie the tie-break gives the other side), and never flips
    # a verdict one blocking constraint decided. Each change is first bounded by its
    # precomputed swing, then by what its rules can take from the winner given which of them
    # hold now; only changes that pass both evaluate a rule.
    winner = base.recommended
    other = next(f for f in FRAMEWORKS if f != winner)
    need = base_scores[winner] - base_scores[other] + (policy.tie_break == winner)
    points_can_flip = base.decided_by != "constraint"
    changed = dict(plain)  # one scratch copy; each question's answer is restored after it
    made: dict[tuple, Flip] = rule_set.derived.setdefault("flip_objects", {})
    shared = shared_json(rule_set.derived)
    flips: list[Flip] = []
    for prepared in prepare_flips(rule_set):
        question = prepared.question
        qid = question.id
        if prepared.not_offered_when is not None and prepared.not_offered_when(plain, None):
            continue  # not a plausible change for these answers (policy flips.not_offered_when)
        current = plain.get(qid)
        changes = prepared.changes(current)
        scan = changes.constrained
        if points_can_flip and changes.by_swing and changes.by_swing[0][1].swing >= need:
            scan += changes.by_swing
        if not scan:
            continue  # no change of this answer can flip the verdict
        found: list[tuple[int, Flip]] = []
        was_fired = [i in fired_ids for i in prepared.rule_ids]
        starts, stops = prepared.losses[winner]
        for order, (alt, rule_positions, constraint_positions, swing) in scan:
            points_may_flip = points_can_flip and swing >= need
            if points_may_flip:
                loss = 0
                for position in rule_positions:
                    loss += stops[position] if was_fired[position] else starts[position]
                points_may_flip = loss >= need
            if not points_may_flip and not constraint_positions:
                if points_can_flip and swing < need:
                    break  # the rest swing even less, and none reads a constraint
                continue
            if alt.value is None:
                changed.pop(qid, None)
            else:
                changed[qid] = alt.value
            constraints = base_constraints
            for position in constraint_positions:
                index, test = prepared.constraints[position]
                if test(changed, None) != base_holds[index]:
                    constraints = [c.rule for c in rule_set.constraints
                                   if c.condition.predicate(changed, None)]
                    break
            else:
                if not points_may_flip:
                    continue
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
            if not delta and constraints is base_constraints:
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
            if recommended == winner:
                continue
            found.append((order, _flip(made, shared, question, current, alt, recommended,
                                       decided_by, scores)))
        if current is None:
            changed.pop(qid, None)
        else:
            changed[qid] = current
        if found:
            found.sort(key=lambda item: item[0])
            flips.extend(_nearest_numbers(question, current, [flip for _, flip in found]))
    return flips


MAX_SHARED_FLIPS = 8192


def _flip(made: dict[tuple, Flip], shared: SharedJson, question: Question, current: AnswerValue | None,
          alt: Alternative, recommended: str, decided_by: str, scores: dict[str, int]) -> Flip:
    """Return the Flip, shared between requests that reach the same one: it is a pure
    function of these arguments (a number's text does not name its current value), and the
    rule set bounds how many there are; past MAX_SHARED_FLIPS they are built every time."""
    was = None if question.type == "number" else current
    key = (question.id, was, alt, recommended, decided_by, scores["pytorch"], scores["tensorflow"])
    found = made.get(key)
    if found is None:
        answer = list(alt.value) if isinstance(alt.value, tuple) else alt.value
        found = Flip(question=question.id, answer=answer, change=alt.change(was),
                     text=_sentence(alt.text(question, was), recommended, decided_by, scores),
                     recommended=recommended, decided_by=decided_by, scores=scores)
        if len(made) < MAX_SHARED_FLIPS:
            made[key] = found
            shared.add(found)
    return found


def _sentence(change: str, recommended: str, decided_by: str, scores: dict[str, int]) -> str:
    name = LABELS[recommended]
    other = "tensorflow" if recommended == "pytorch" else "pytorch"
    points = f"{name} {scores[recommended]} – {LABELS[other]} {scores[other]}"
    if decided_by == "constraint":
        return f"{change}: {name}, because {LABELS[other]} could not reach a target ({points})"
    if decided_by == "tie_break":
        return f"{change}: a tie ({points}), {name} by tie-break"
    return f"{change}: {name} ({points})"


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
