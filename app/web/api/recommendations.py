"""POST /api/v1/recommendations: answers in, recommendation out; nothing stored."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from app.decision.recommendation import Recommendation
from app.web.advice import advise
from app.web.api.deps import ContextDep
from app.web.api.schemas import RecommendationRequest, errors

router = APIRouter(prefix="/api/v1", tags=["recommendations"])
BODY_SCHEMA = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/RecommendationRequest"}}}}}


@router.post("/recommendations", response_model=Recommendation,
             responses=errors(400, 404, 409, 413, 422), openapi_extra=BODY_SCHEMA,
             summary="Score answers and return the recommendation")
async def recommend(request: Request, context: ContextDep) -> Response:
    # The body is read here rather than declared as a parameter: a body seen before
    # (CI jobs post the same answers again and again) is answered from the memo
    # without being parsed at all. Everything else is parsed and validated as usual.
    body = await request.body()
    cached = context.advice.response_for(body)
    if cached is not None:
        return Response(cached, media_type="application/json")
    try:
        parsed = RecommendationRequest.model_validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError([
            {"loc": ("body", *e["loc"]), "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_input=False, include_context=False)
        ]) from None
    advice = advise(context.rule_set, context.sessions, parsed.answers, parsed.probe_run_id,
                    context.advice)
    context.advice.remember_response(body, parsed.probe_run_id, advice)
    return Response(advice.json, media_type="application/json")
