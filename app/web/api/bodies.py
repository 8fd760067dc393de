"""Reading JSON request bodies off the event loop, with errors that name the field.

Routes that take a body read its bytes (async) and hand parsing, validation, scoring and
storage to a worker thread: a 2 MiB body must never stall the event loop. FastAPI's own
body parameters would parse and validate on the loop."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def parse_json_body(model: type[M], body: bytes) -> M:
    """Return the body validated as `model`; RequestValidationError (422) otherwise.

    The stdlib parser is used because it keeps a lone surrogate ("\\ud800") as text, so
    validation can refuse it naming its field, where a strict parser would only say
    "invalid JSON" somewhere in the body."""
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
