"""Turning an HTML form post into the same raw answers object the API takes."""

from __future__ import annotations

from typing import Any

from app.decision.questionnaire import Questionnaire

FORM_ONLY = ("title", "probe_run_id", "measure_now", "from_report")  # form fields that are not answers


def answers_from_form(questionnaire: Questionnaire, form: dict[str, list[str]]) -> dict[str, Any]:
    """Return raw answers; values that cannot be read as their type are passed on unchanged
    so that validation names them, and empty optional fields count as unanswered."""
    raw: dict[str, Any] = {}
    for question in questionnaire.questions():
        values = [v for v in form.get(question.id, []) if v != ""]
        if question.type == "multi":
            if values or question.required:
                raw[question.id] = values
            continue
        if not values:
            continue
        value = values[-1].strip()
        if question.type == "boolean":
            raw[question.id] = {"true": True, "false": False}.get(value, value)
        elif question.type == "number":
            raw[question.id] = _number(value)
        else:
            raw[question.id] = value
    for key in form:
        if key not in raw and key not in {q.id for q in questionnaire.questions()} \
                and key not in FORM_ONLY:
            raw[key] = form[key][-1]  # unknown fields are refused by validation, by name
    return raw


def _number(text: str) -> Any:
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() else number


def form_values(questionnaire: Questionnaire, answers: dict[str, Any]) -> dict[str, Any]:
    """Return stored answers as the form shows them ("start from this report"): only
    questions the questionnaire still asks, multi answers as lists."""
    questions = questionnaire.by_id()
    return {qid: list(value) if isinstance(value, list | tuple) else value
            for qid, value in answers.items() if qid in questions}
