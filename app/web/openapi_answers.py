"""The JSON Schema of `answers`, generated from the questionnaire for OpenAPI, so API
clients (and schemathesis) see the same ids, options and ranges as the form."""

from __future__ import annotations

from typing import Any

from app.decision.questionnaire import STORABLE_TEXT_PATTERN, Question, Questionnaire


def question_schema(question: Question) -> dict[str, Any]:
    schema: dict[str, Any] = {"title": question.label, "description": question.help}
    if question.type == "single":
        schema |= {"type": "string", "enum": list(question.values)}
    elif question.type == "multi":
        plain = [v for v in question.values if v not in question.exclusive]
        choices: dict[str, Any] = {"type": "array", "items": {"type": "string", "enum": plain},
                                   "uniqueItems": True}
        if question.required:
            choices["minItems"] = 1
        if question.max_items:
            choices["maxItems"] = question.max_items
        if not question.exclusive:
            schema |= choices
        else:
            # An exclusive option ("none", "research_only") stands alone.
            schema["anyOf"] = [choices] + [
                {"type": "array", "items": {"type": "string", "const": only},
                 "minItems": 1, "maxItems": 1} for only in question.exclusive]
    elif question.type == "boolean":
        schema["type"] = "boolean"
    elif question.type == "number":
        schema["type"] = "integer" if question.integer else "number"
        if question.minimum is not None:
            schema["minimum"] = question.minimum
        if question.maximum is not None:
            schema["maximum"] = question.maximum
    else:
        schema |= {"type": "string", "maxLength": question.max_length,
                   "pattern": STORABLE_TEXT_PATTERN}
    return schema


def answers_schema(questionnaire: Questionnaire) -> dict[str, Any]:
    questions = list(questionnaire.questions())
    return {
        "type": "object",
        "title": "Answers",
        "description": "Question id -> answer. Unanswered optional questions are left out.",
        "properties": {q.id: question_schema(q) for q in questions},
        "required": [q.id for q in questions if q.required],
        "additionalProperties": False,
    }
