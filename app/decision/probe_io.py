"""Reading and checking probe-run documents made here or on another machine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from app.decision.errors import AdvisorError
from app.decision.probe_document import SCHEMA, ProbeRunDocument


class ProbeDocumentError(AdvisorError):
    """A probe-run document that is not valid JSON or does not fit the schema."""


def parse_probe_document(data: Any, origin: str = "document") -> ProbeRunDocument:
    """Return the validated document, or raise ProbeDocumentError naming the bad fields."""
    if not isinstance(data, dict):
        raise ProbeDocumentError(f"{origin}: expected a JSON object")
    if data.get("schema") != SCHEMA:
        raise ProbeDocumentError(f"{origin}: field schema must be {SCHEMA!r}, "
                                 f"got {data.get('schema')!r}")
    try:
        return ProbeRunDocument.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:20]
        )
        raise ProbeDocumentError(f"{origin} does not fit {SCHEMA}: {problems}") from None


def read_probe_document(path: Path) -> ProbeRunDocument:
    """Return the validated probe-run document stored in a JSON file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProbeDocumentError(f"cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ProbeDocumentError(f"{path} is not valid JSON: {exc}") from None
    return parse_probe_document(data, str(path))
