"""Reading JSON request bodies off the event loop, with errors that name the field.

Routes that take a body read its bytes (async) and hand parsing, validation, scoring and
storage to a worker thread: a 2 MiB body must never stall the event loop. FastAPI's own
body parameters would parse and validate on the loop."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from app.decision.questionnaire import Questionnaire

M = TypeVar("M", bound=BaseModel)
SEPARATORS = (b",", b":", b"[", b"{")


def separator_budget(questionnaire: Questionnaire) -> int:
    """Return the most JSON separators (, : [ {) any valid answers body can hold: one key
    and value per question, every option of every multi question, every character of every
    text answer and of the title, and a margin for the other fields. Whitespace is free."""
    questions = list(questionnaire.questions())
    return (2 * len(questions) + sum(len(q.options) for q in questions if q.type == "multi")
            + sum(q.max_length or 0 for q in questions if q.type == "text") + 120 + 32)


def parse_json_body(model: type[M], body: bytes, max_separators: int | None = None) -> M:
    """Return the body validated as `model`; RequestValidationError (422) otherwise.

    With `max_separators`, a body with more JSON separators than any valid request can
    hold is refused after a memchr-speed count, before parsing: the parser is C code that
    holds the GIL, and 2 MiB of tiny items would otherwise hold it (and stall the event
    loop) for ~80 ms. The stdlib parser is used because it keeps a lone surrogate
    ("\\ud800") as text, so validation can refuse it naming its field, where a strict
    parser would only say "invalid JSON" somewhere in the body."""
    if max_separators is not None:
        found = sum(body.count(separator) for separator in SEPARATORS)
        if found > max_separators:
            raise RequestValidationError([{
                "loc": ("body",), "type": "too_many_items",
                "msg": f"the body holds {found} JSON items and keys; no valid request holds "
                       f"more than {max_separators} (the questionnaire bounds it)"}])
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise RequestValidationError([{
            "loc": ("body",), "type": "json_invalid",
            "msg": "the body is not JSON in UTF-8 (or nests more than the parser allows)"}]
        ) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(validation_errors(exc)) from None


def validation_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """Return pydantic's errors as FastAPI's, under "body", without the input."""
    return [{"loc": ("body", *e["loc"]), "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_input=False, include_context=False)]


def body_schema(name: str) -> dict[str, Any]:
    """Return openapi_extra declaring a required JSON body of the named component schema."""
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{name}"}}}}}
