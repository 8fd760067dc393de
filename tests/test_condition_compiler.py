"""Conditions are compiled into generated Python (one function per condition, and one per
list of conditions). Every condition the rule set holds, and one of every form of the
condition language, must decide exactly what the language says, checked against a plain
interpreter of the YAML written here."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from app.decision.conditions import COMPARATORS, compile_condition, compile_selector
from app.decision.evidence import measure_lookup
from app.decision.measures import Measure, parse_measure
from app.decision.probe_io import read_probe_document
from app.decision.questionnaire import validate_answers
from tests.evidence_docs import derive
from tests.test_scoring import _random_answer_sets

RECORDED = Path(__file__).parent / "data" / "probe-run-recorded.json"


def interpret(raw: dict[str, Any], answers: dict[str, Any], lookup) -> bool:
    """The condition language as its docstring (app/decision/conditions.py) states it."""
    if "all" in raw:
        return all(interpret(c, answers, lookup) for c in raw["all"])
    if "any" in raw:
        return any(interpret(c, answers, lookup) for c in raw["any"])
    if "not" in raw:
        return not interpret(raw["not"], answers, lookup)
    if "measured" in raw:
        fact = lookup(_measure(raw["measured"]), answers) if lookup else None
        if fact is None or not fact.usable:
            return False
        if "verdict" in raw:
            wanted = raw["verdict"] if isinstance(raw["verdict"], list) else [raw["verdict"]]
            floor = raw.get("by_at_least")
            return fact.verdict in wanted and (floor is None or fact.ci95[0] >= floor)
        op = next(k for k in raw if k != "measured")
        return COMPARATORS[op](fact.value, raw[op])
    qid = raw["question"]
    answered = qid in answers
    value = answers.get(qid)
    if "answered" in raw:
        return answered == raw["answered"]
    if not answered:
        return False
    if "equals" in raw:
        return value == raw["equals"]
    if "one_of" in raw:
        return value in raw["one_of"]
    if "contains" in raw:
        return raw["contains"] in value
    if "contains_any" in raw:
        return any(v in value for v in raw["contains_any"])
    if "contains_all" in raw:
        return all(v in value for v in raw["contains_all"])
    op = next(k for k in raw if k != "question")
    return COMPARATORS[op](value, raw[op])


_measures: dict[str, Measure] = {}


def _measure(raw: dict[str, Any]) -> Measure:
    # The lookup keeps facts by measure object, as rule sets keep their measures alive.
    return _measures.setdefault(repr(raw), parse_measure(raw))


EVERY_FORM = [
    {"question": "role", "equals": "startup"},
    {"question": "uses_hub_models", "equals": False},
    {"question": "cloud", "one_of": ["aws", "gcp"]},
    {"question": "deployment_targets", "contains": "mobile_android"},
    {"question": "deployment_targets", "contains_any": ["web_browser", "edge_linux"]},
    {"question": "training_hardware", "contains_all": ["nvidia_gpu", "cpu"]},
    {"question": "latency_budget_ms", "lt": 50},
    {"question": "peak_requests_per_second", "gte": 1000},
    {"question": "models_in_production", "lte": 20},
    {"question": "models_in_production", "gt": 19},
    {"question": "edge_accelerator", "answered": True},
    {"question": "mcu_npu", "answered": False},
    {"not": {"question": "priorities", "contains": "iteration_speed"}},
    {"any": [{"question": "role", "equals": "researcher"},
             {"all": [{"question": "team_size", "one_of": ["large", "medium"]},
                      {"not": {"question": "latency_budget_ms", "gt": 10}}]}]},
    {"all": [{"question": "role", "equals": "enterprise"},
             {"question": "cloud", "equals": "aws"},
             {"question": "team_experience", "one_of": ["pytorch", "both"]}]},
    {"measured": {"speedup": {"framework": "tensorflow", "variant": "best",
                              "over": {"framework": "pytorch", "variant": "best"},
                              "metric": "latency_ms_b1"}}, "verdict": "faster"},
    {"measured": {"speedup": {"framework": "pytorch", "variant": "best",
                              "over": {"framework": "tensorflow", "variant": "best"},
                              "metric": "latency_ms_b1"}},
     "verdict": ["faster", "tie"], "by_at_least": 1.1},
    {"measured": {"value": {"framework": "pytorch", "variant": "eager",
                            "metric": "latency_ms_b1"}}, "lt": 5.0},
]


@pytest.fixture(scope="module")
def lookups(rule_set):
    document = derive(read_probe_document(RECORDED))
    return [None, measure_lookup(document, rule_set)]


def every_condition(rule_set):
    yield from ((r.rule.when, r.condition) for r in rule_set.rules)
    yield from ((t.rule.when, t.condition) for t in rule_set.toolchain if t.condition)
    yield from ((c.rule.when, c.condition) for c in rule_set.constraints)
    yield from ((a.rule.when, a.condition) for a in rule_set.also_consider)
    for raw in EVERY_FORM:
        yield raw, compile_condition(raw, rule_set.questions)


def test_compiled_conditions_decide_what_the_language_says(rule_set, lookups):
    conditions = list(every_condition(rule_set))
    selector = compile_selector([c for _, c in conditions], "everything")
    rng = random.Random(3)
    answer_sets = _random_answer_sets(rule_set, 200, seed=7)
    for raw_answers in answer_sets:
        if rng.random() < 0.5:
            raw_answers["latency_budget_ms"] = rng.choice([1, 5, 10, 11, 49, 50, 51, 2000])
        plain = validate_answers(rule_set.questionnaire, raw_answers).plain
        for lookup in lookups:
            expected = [interpret(raw, plain, lookup) for raw, _ in conditions]
            found = [c.predicate(plain, lookup) for _, c in conditions]
            assert found == expected
            assert selector(plain, lookup) == [i for i, holds in enumerate(expected) if holds]
    # the sample exercises both outcomes of every form
    for raw, condition in conditions[-len(EVERY_FORM):]:
        seen = {condition.predicate(validate_answers(rule_set.questionnaire, a).plain, lookup)
                for a in answer_sets for lookup in lookups}
        assert seen == {True, False}, raw


def test_rule_text_is_never_code(rule_set):
    """Values from the rules are bound to names, never written into the generated source:
    a value that looks like Python stays a value."""
    sneaky = "x') or True or ('"
    condition = compile_condition({"question": "project_name", "equals": sneaky},
                                  rule_set.questions)
    assert sneaky not in condition.source
    assert condition.predicate({"project_name": "Smart camera"}, None) is False
    assert condition.predicate({"project_name": sneaky}, None) is True
    selector = compile_selector([condition], "sneaky")
    assert selector({"project_name": "Smart camera"}, None) == []


def test_a_condition_nested_too_deeply_is_refused_by_name(rule_set):
    from app.decision.conditions import ConditionError

    raw: dict[str, Any] = {"question": "role", "equals": "startup"}
    for _ in range(300):
        raw = {"not": raw}
    with pytest.raises(ConditionError, match="when: the condition nests too deeply"):
        compile_condition(raw, rule_set.questions)
