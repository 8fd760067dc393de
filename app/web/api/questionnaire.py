"""GET /api/v1/questionnaire and GET /api/v1/rules: the questions and the rule set."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.web.api.deps import ContextDep

router = APIRouter(prefix="/api/v1", tags=["questionnaire"])


@router.get("/questionnaire", summary="The questionnaire: sections, questions and options")
def questionnaire(context: ContextDep) -> dict[str, Any]:
    data = context.rule_set.questionnaire.model_dump(mode="json")
    return {"rules_version": context.rule_set.version, **data}


@router.get("/rules", summary="Every rule with its reason, sources and date")
def rules(context: ContextDep) -> dict[str, Any]:
    rs = context.rule_set
    return {
        "rules_version": rs.version,
        "policy": rs.policy.model_dump(mode="json"),
        "scoring": [{**r.rule.model_dump(mode="json"), "file": r.source_file} for r in rs.rules],
        "toolchain": [t.rule.model_dump(mode="json") for t in rs.toolchain],
        "tools": [t.status.model_dump(mode="json") for t in rs.tools],
        "claims": [c.claim.model_dump(mode="json") for c in rs.claims],
    }
