"""The condition language of rules: parsed from YAML, checked against the questionnaire,
compiled into plain closures so that scoring thousands of rules stays cheap.

Forms (``Q`` is a question id):
  {question: Q, equals: V}            single/boolean/number/text answer equals V
  {question: Q, one_of: [V, ...]}     single answer is one of the values
  {question: Q, contains: V}          multi answer includes V
  {question: Q, contains_any: [...]}  multi answer includes at least one
  {question: Q, contains_all: [...]}  multi answer includes every one
  {question: Q, lt|lte|gt|gte: N}     numeric comparison
  {question: Q, answered: true|false} whether the question was answered
  {all: [C, ...]}, {any: [C, ...]}, {not: C}
  {measured: M, verdict: V [, by_at_least: R]}
                                      a measured speed-up's stored comparison has verdict V
                                      (faster, slower, tie; or a list) and, with by_at_least,
                                      the low end of its 95% interval is at least R
  {measured: M, lt|lte|gt|gte: N}     a measured plain value (not a speed-up: those are
                                      judged by their interval, never by a point value)
  Measured conditions are false when the measurement does not exist or the evidence sets
  it aside (contended run, noisy series, inconclusive comparison: app/decision/evidence.py).
A comparison on an unanswered question is false.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.decision.measures import Measure, MeasureLookup, parse_measure
from app.decision.questionnaire import Question

Predicate = Callable[[Mapping[str, Any], MeasureLookup | None], bool]

COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
}
ANSWER_OPERATORS = ("equals", "one_of", "contains", "contains_any", "contains_all", "answered")


class ConditionError(ValueError):
    """A malformed condition; the message names the offending field path."""


@dataclass
class CompiledCondition:
    """A checked condition: its predicate, and what it refers to (for flips and docs)."""

    predicate: Predicate
    questions: set[str] = field(default_factory=set)
    thresholds: dict[str, set[float]] = field(default_factory=dict)
    measures: list[Measure] = field(default_factory=list)
    # Per question, the answer values its tests name (an equals/one_of/contains* test can only
    # change its result when one of these enters or leaves the answer); None when some test
    # reads the answer whole (answered, a comparison). Flips use it to skip rules a change
    # cannot affect.
    mentions: dict[str, frozenset[Any] | None] = field(default_factory=dict)

    def mention(self, qid: str, values: frozenset[Any] | None) -> None:
        if values is None or self.mentions.get(qid, frozenset()) is None:
            self.mentions[qid] = None
        else:
            self.mentions[qid] = self.mentions.get(qid, frozenset()) | values


def compile_condition(
    raw: Any, questions: Mapping[str, Question], path: str = "when"
) -> CompiledCondition:
    """Return the compiled condition, or raise ConditionError naming the bad field."""
    out = CompiledCondition(predicate=lambda a, m: True)
    out.predicate = _compile(raw, questions, path, out)
    return out


def _compile(raw: Any, questions: Mapping[str, Question], path: str, out: CompiledCondition
             ) -> Predicate:
    if not isinstance(raw, Mapping):
        raise ConditionError(f"{path}: a condition must be a mapping, got {type(raw).__name__}")
    keys = set(raw)
    if keys == {"all"} or keys == {"any"}:
        op = next(iter(keys))
        items = raw[op]
        if not isinstance(items, list) or not items:
            raise ConditionError(f"{path}.{op}: must be a non-empty list of conditions")
        parts = [_compile(c, questions, f"{path}.{op}[{i}]", out) for i, c in enumerate(items)]
        return _combine(op == "all", parts)
    if keys == {"not"}:
        inner = _compile(raw["not"], questions, f"{path}.not", out)
        return lambda a, m: not inner(a, m)
    if "measured" in keys:
        return _compile_measured(raw, path, out)
    if "question" in keys:
        return _compile_answer(raw, questions, path, out)
    raise ConditionError(
        f"{path}: unknown condition keys {sorted(map(str, keys))}; expected question, "
        "measured, all, any or not"
    )


def _combine(conjunction: bool, parts: list[Predicate]) -> Predicate:
    # Small fixed arities get straight-line closures: scoring 10,000 rules must
    # stay within milliseconds, and a generator per call costs more than the test.
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        p, q = parts
        if conjunction:
            return lambda a, m: p(a, m) and q(a, m)
        return lambda a, m: p(a, m) or q(a, m)
    if conjunction:
        def every(a: Mapping[str, Any], m: MeasureLookup | None) -> bool:
            for part in parts:  # noqa: SIM110 - see above
                if not part(a, m):
                    return False
            return True
        return every

    def some(a: Mapping[str, Any], m: MeasureLookup | None) -> bool:
        for part in parts:  # noqa: SIM110
            if part(a, m):
                return True
        return False
    return some


VERDICTS = ("faster", "slower", "tie")


def _compile_measured(raw: Mapping[str, Any], path: str, out: CompiledCondition) -> Predicate:
    try:
        measure = parse_measure(raw["measured"])
    except ValueError as exc:
        raise ConditionError(f"{path}.measured: {exc}") from None
    ops = set(raw) - {"measured"}
    if "verdict" in ops:
        return _compile_verdict(raw, path, out, measure, ops)
    if len(ops) != 1 or not ops <= set(COMPARATORS):
        raise ConditionError(f"{path}: a measured condition takes verdict (with optional "
                             "by_at_least) or exactly one of lt, lte, gt, gte")
    if measure.kind == "speedup":
        raise ConditionError(f"{path}: a speed-up is judged by its 95% interval: use "
                             "'verdict: faster' (and 'by_at_least') instead of a comparison")
    op = ops.pop()
    limit = raw[op]
    if isinstance(limit, bool) or not isinstance(limit, int | float):
        raise ConditionError(f"{path}.{op}: must be a number")
    out.measures.append(measure)
    compare = COMPARATORS[op]

    def predicate(answers: Mapping[str, Any], lookup: MeasureLookup | None) -> bool:
        if lookup is None:
            return False
        fact = lookup(measure, answers)
        return fact is not None and fact.usable and compare(fact.value, limit)

    return predicate


def _compile_verdict(raw: Mapping[str, Any], path: str, out: CompiledCondition, measure: Measure,
                     ops: set[str]) -> Predicate:
    if measure.kind != "speedup":
        raise ConditionError(f"{path}.verdict: only a speed-up has a verdict")
    if ops - {"verdict", "by_at_least"}:
        raise ConditionError(f"{path}: unexpected {sorted(ops - {'verdict', 'by_at_least'})} "
                             "beside verdict")
    wanted = raw["verdict"]
    wanted = (wanted,) if isinstance(wanted, str) else tuple(wanted or ())
    if not wanted or not set(wanted) <= set(VERDICTS):
        raise ConditionError(f"{path}.verdict: expected one or more of {', '.join(VERDICTS)}")
    floor = raw.get("by_at_least")
    if floor is not None and (isinstance(floor, bool) or not isinstance(floor, int | float)
                              or floor <= 0):
        raise ConditionError(f"{path}.by_at_least: must be a positive number (a ratio)")
    out.measures.append(measure)

    def predicate(answers: Mapping[str, Any], lookup: MeasureLookup | None) -> bool:
        if lookup is None:
            return False
        fact = lookup(measure, answers)
        if fact is None or not fact.usable or fact.verdict not in wanted:
            return False
        return floor is None or (fact.ci95 is not None and fact.ci95[0] >= floor)

    return predicate


def _compile_answer(
    raw: Mapping[str, Any], questions: Mapping[str, Question], path: str, out: CompiledCondition
) -> Predicate:
    qid = raw["question"]
    if qid not in questions:
        raise ConditionError(f"{path}.question: unknown question {qid!r}")
    question = questions[qid]
    ops = set(raw) - {"question"}
    if len(ops) != 1:
        raise ConditionError(
            f"{path}: give exactly one operator of "
            f"{', '.join(ANSWER_OPERATORS + tuple(COMPARATORS))}; got {sorted(ops) or 'none'}"
        )
    op = ops.pop()
    arg = raw[op]
    where = f"{path}.{op}"
    out.questions.add(qid)

    def check_value(value: Any, at: str) -> None:
        if question.type in ("single", "multi") and value not in question.values:
            raise ConditionError(
                f"{at}: {value!r} is not an option of {qid}; options are "
                + ", ".join(question.values)
            )
        if question.type == "boolean" and not isinstance(value, bool):
            raise ConditionError(f"{at}: {qid} is boolean; compare with true or false")
        if question.type == "number" and (
            isinstance(value, bool) or not isinstance(value, int | float)
        ):
            raise ConditionError(f"{at}: {qid} is a number; compare with a number")

    def check_list(at: str) -> list[Any]:
        if not isinstance(arg, list) or not arg:
            raise ConditionError(f"{at}: must be a non-empty list")
        for i, value in enumerate(arg):
            check_value(value, f"{at}[{i}]")
        return list(arg)

    if op == "answered":
        if not isinstance(arg, bool):
            raise ConditionError(f"{where}: must be true or false")
        out.mention(qid, None)
        return lambda a, m: (qid in a) == arg
    if op == "equals":
        if question.type == "multi":
            raise ConditionError(f"{where}: {qid} is a multi question; use contains")
        check_value(arg, where)
        out.mention(qid, frozenset([arg]))
        return lambda a, m: qid in a and a[qid] == arg
    if op == "one_of":
        if question.type != "single":
            raise ConditionError(f"{where}: one_of works on single questions; {qid} is "
                                 f"{question.type}")
        allowed = frozenset(check_list(where))
        out.mention(qid, allowed)
        return lambda a, m: a.get(qid) in allowed
    if op in ("contains", "contains_any", "contains_all"):
        if question.type != "multi":
            raise ConditionError(f"{where}: {op} works on multi questions; {qid} is "
                                 f"{question.type}")
        if op == "contains":
            check_value(arg, where)
            out.mention(qid, frozenset([arg]))
            return lambda a, m: arg in a.get(qid, ())
        wanted = frozenset(check_list(where))
        out.mention(qid, wanted)
        if op == "contains_any":
            return lambda a, m: not wanted.isdisjoint(a.get(qid, ()))
        return lambda a, m: wanted.issubset(a.get(qid, ()))
    if op in COMPARATORS:
        if question.type != "number":
            raise ConditionError(f"{where}: {op} works on number questions; {qid} is "
                                 f"{question.type}")
        check_value(arg, where)
        out.thresholds.setdefault(qid, set()).add(float(arg))
        out.mention(qid, None)
        compare = COMPARATORS[op]
        return lambda a, m: qid in a and compare(a[qid], arg)
    raise ConditionError(
        f"{path}: unknown operator {op!r}; expected one of "
        + ", ".join(ANSWER_OPERATORS + tuple(COMPARATORS))
    )
