"""The condition language of rules: parsed from YAML, checked against the questionnaire,
compiled into one Python function each, so that scoring thousands of rules stays cheap.

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

import itertools
import operator
from collections.abc import Callable, Mapping, Sequence
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
SYMBOLS = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
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
    source: str = ""  # the predicate's body as Python, over `a`, `m` and the names below
    namespace: dict[str, Any] = field(default_factory=dict)  # generated name -> constant

    def mention(self, qid: str, values: frozenset[Any] | None) -> None:
        if values is None or self.mentions.get(qid, frozenset()) is None:
            self.mentions[qid] = None
        else:
            self.mentions[qid] = self.mentions.get(qid, frozenset()) | values


_names = itertools.count()


class _Namespace:
    """The constants a compiled predicate reads, each bound to a generated name.

    Values from the rules (question ids, options, numbers, sets, measured tests) are never
    written into the generated source: it names them (``c0``, ``c1``, ...), so no rule text
    can change what the code does. Names are unique in the process, so the sources of many
    conditions can be joined into one function (`compile_selector`)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def name(self, value: Any) -> str:
        found = f"c{next(_names)}"
        self.values[found] = value
        return found


def compile_condition(
    raw: Any, questions: Mapping[str, Question], path: str = "when"
) -> CompiledCondition:
    """Return the compiled condition, or raise ConditionError naming the bad field.

    The condition becomes one Python expression over the answers ``a`` and the measure
    lookup ``m``, compiled once into a single function: scoring and flips evaluate a few
    hundred conditions per request, and one call with inline tests costs a fraction of a
    tree of closures (`advisor bench scoring`)."""
    out = CompiledCondition(predicate=lambda a, m: True)
    names = _Namespace()
    try:
        out.source = _compile(raw, questions, path, out, names)
        code = compile(f"lambda a, m: {out.source}", f"<condition {path}>", "eval")
    except (RecursionError, SyntaxError, MemoryError):
        # Python's parser refuses about 200 nested parentheses; no real rule comes close.
        raise ConditionError(f"{path}: the condition nests too deeply") from None
    out.namespace = names.values
    out.predicate = eval(code, {"__builtins__": {}, **names.values})  # noqa: S307 - see _Namespace
    return out


Selector = Callable[[Mapping[str, Any], MeasureLookup | None], list[int]]


def compile_selector(conditions: Sequence[CompiledCondition | None], name: str) -> Selector:
    """Return one function that gives the positions of the conditions that hold (None always
    holds), in order: the same as testing each predicate, in one call instead of one per
    condition."""
    lines = [f"def {name}(a, m):", "    out = []"]
    namespace: dict[str, Any] = {"__builtins__": {}}
    for position, condition in enumerate(conditions):
        if condition is None:
            lines.append(f"    out.append({position})")
            continue
        namespace.update(condition.namespace)
        lines += [f"    if {condition.source}:", f"        out.append({position})"]
    lines.append("    return out")
    exec(compile("\n".join(lines), f"<selector {name}>", "exec"), namespace)  # noqa: S102
    return namespace[name]


def _compile(raw: Any, questions: Mapping[str, Question], path: str, out: CompiledCondition,
             names: _Namespace) -> str:
    if not isinstance(raw, Mapping):
        raise ConditionError(f"{path}: a condition must be a mapping, got {type(raw).__name__}")
    keys = set(raw)
    if keys == {"all"} or keys == {"any"}:
        op = next(iter(keys))
        items = raw[op]
        if not isinstance(items, list) or not items:
            raise ConditionError(f"{path}.{op}: must be a non-empty list of conditions")
        parts = [_compile(c, questions, f"{path}.{op}[{i}]", out, names)
                 for i, c in enumerate(items)]
        return "(" + (" and " if op == "all" else " or ").join(parts) + ")"
    if keys == {"not"}:
        return f"(not {_compile(raw['not'], questions, f'{path}.not', out, names)})"
    if "measured" in keys:
        return f"{names.name(_compile_measured(raw, path, out))}(a, m)"
    if "question" in keys:
        return _compile_answer(raw, questions, path, out, names)
    raise ConditionError(
        f"{path}: unknown condition keys {sorted(map(str, keys))}; expected question, "
        "measured, all, any or not"
    )


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
    raw: Mapping[str, Any], questions: Mapping[str, Question], path: str, out: CompiledCondition,
    names: _Namespace,
) -> str:
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
    q = names.name(qid)

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
        return f"({q} in a)" if arg else f"({q} not in a)"
    if op == "equals":
        if question.type == "multi":
            raise ConditionError(f"{where}: {qid} is a multi question; use contains")
        check_value(arg, where)
        out.mention(qid, frozenset([arg]))
        return f"({q} in a and a[{q}] == {names.name(arg)})"
    if op == "one_of":
        if question.type != "single":
            raise ConditionError(f"{where}: one_of works on single questions; {qid} is "
                                 f"{question.type}")
        allowed = frozenset(check_list(where))
        out.mention(qid, allowed)
        return f"(a.get({q}) in {names.name(allowed)})"
    if op in ("contains", "contains_any", "contains_all"):
        if question.type != "multi":
            raise ConditionError(f"{where}: {op} works on multi questions; {qid} is "
                                 f"{question.type}")
        if op == "contains":
            check_value(arg, where)
            out.mention(qid, frozenset([arg]))
            return f"({names.name(arg)} in a.get({q}, ()))"
        wanted = frozenset(check_list(where))
        out.mention(qid, wanted)
        test = "not {}.isdisjoint" if op == "contains_any" else "{}.issubset"
        return f"({test.format(names.name(wanted))}(a.get({q}, ())))"
    if op in COMPARATORS:
        if question.type != "number":
            raise ConditionError(f"{where}: {op} works on number questions; {qid} is "
                                 f"{question.type}")
        check_value(arg, where)
        out.thresholds.setdefault(qid, set()).add(float(arg))
        out.mention(qid, None)
        return f"({q} in a and a[{q}] {SYMBOLS[op]} {names.name(arg)})"
    raise ConditionError(
        f"{path}: unknown operator {op!r}; expected one of "
        + ", ".join(ANSWER_OPERATORS + tuple(COMPARATORS))
    )
