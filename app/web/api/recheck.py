"""Re-check a report against today's rules and latest runs (the report itself never changes)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from app.web.api.deps import ContextDep
from app.web.api.schemas import errors
from app.web.recheck import recheck_report

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])


@router.get("/{report_id}/recheck", responses=errors(404, 409),
            summary="What today's rules and latest runs recommend for the same answers, with a diff")
def recheck(report_id: str, context: ContextDep, response: Response) -> dict[str, Any]:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return recheck_report(context, report_id)
