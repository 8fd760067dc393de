"""Answers are validated against rules/questionnaire.yaml, with every problem named at once."""

from __future__ import annotations

import pytest

from app.decision.errors import AnswersError
from app.decision.questionnaire import validate_answers


def problems(rule_set, raw) -> dict[str, str]:
    with pytest.raises(AnswersError) as caught:
        validate_answers(rule_set.questionnaire, raw)
    return {p.location: p.message for p in caught.value.problems}


def test_spec_question_ids_and_values_are_all_present(rule_set):
    questions = rule_set.questions
    assert questions["role"].values == ("student", "researcher", "startup", "enterprise")
    assert set(questions["deployment_targets"].values) >= {
        "research_only", "cloud_server", "serverless", "batch", "mobile_android", "mobile_ios",
        "web_browser", "edge_linux", "microcontroller"}
    assert questions["priorities"].max_items == 3
    assert questions["models_in_production"].maximum == 100000
    assert not questions["latency_budget_ms"].required
    assert questions["project_name"].max_length == 120
    for question in rule_set.questionnaire.questions():
        assert question.label and len(question.help) > 15, question.id


def test_valid_answers_are_normalised(rule_set, answers):
    answers["priorities"] = ["iteration_speed", "debuggability"]
    validated = validate_answers(rule_set.questionnaire, answers)
    assert validated["priorities"] == ("debuggability", "iteration_speed")
    assert "latency_budget_ms" not in validated


def test_unknown_option_is_refused_with_allowed_values(rule_set, answers):
    answers["role"] = "hobbyist"
    found = problems(rule_set, answers)
    assert "'hobbyist' is not allowed" in found["role"]
    assert "student, researcher, startup, enterprise" in found["role"]


def test_every_problem_is_reported_at_once(rule_set, answers):
    answers.update(
        role=3, priorities=["iteration_speed", "debuggability", "low_latency", "small_footprint"],
        latency_budget_ms=0.01, uses_hub_models="yes", project_name="x" * 121, colour="blue",
    )
    del answers["cloud"]
    found = problems(rule_set, answers)
    assert set(found) == {"role", "priorities", "latency_budget_ms", "uses_hub_models",
                          "project_name", "colour", "cloud"}
    assert "at most 3" in found["priorities"]
    assert "from 0.1 to 60000" in found["latency_budget_ms"]
    assert "true or false" in found["uses_hub_models"]
    assert "at most 120 characters" in found["project_name"]
    assert "unknown question" in found["colour"] and "role" in found["colour"]
    assert "is required" in found["cloud"] and "gcp" in found["cloud"]


def test_numbers_are_range_and_type_checked(rule_set, answers):
    for bad in (-1, 100001, 2.5, True, "12", float("nan")):
        answers["models_in_production"] = bad
        assert "models_in_production" in problems(rule_set, answers), bad


def test_repeated_choices_are_refused(rule_set, answers):
    answers["priorities"] = ["debuggability", "debuggability"]
    assert "more than once" in problems(rule_set, answers)["priorities"]


def test_exclusive_choices_cannot_be_combined(rule_set, answers):
    answers["deployment_targets"] = ["research_only", "cloud_server"]
    assert "cannot be combined" in problems(rule_set, answers)["deployment_targets"]


def test_required_multi_answer_cannot_be_empty(rule_set, answers):
    answers["training_hardware"] = []
    assert "at least one" in problems(rule_set, answers)["training_hardware"]


def test_answers_must_be_a_mapping(rule_set):
    assert "mapping" in problems(rule_set, ["role"])["answers"]
