"""POST /api/v1/recommendations: answers in, recommendation out; nothing stored."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from app.decision.recommendation import Recommendation
from app.web.advice import advise
from app.web.api.bodies import body_schema, parse_json_body
from app.web.api.deps import ContextDep
from app.web.api.schemas import RecommendationRequest, errors
from app.web.context import ServiceContext

router = APIRouter(prefix="/api/v1", tags=["recommendations"])


@router.post("/recommendations", response_model=Recommendation,
             responses=errors(400, 404, 409, 413, 422),
             openapi_extra=body_schema("RecommendationRequest"),
             summary="Score answers and return the recommendation")
async def recommend(request: Request, context: ContextDep) -> Response:
    # The body is read here and everything else runs in a worker thread: parsing,
    # validation and scoring of a 2 MiB body must not stall the event loop. Answers seen
    # before (in any spelling) are answered from the memo, keyed by the validated answers.
    body = await request.body()
    return Response(await run_in_threadpool(_recommend, context, body),
                    media_type="application/json")


def _recommend(context: ServiceContext, body: bytes) -> bytes:
    parsed = parse_json_body(RecommendationRequest, body, context.separator_budget)
    return advise(context.rule_set, context.sessions, parsed.answers, parsed.probe_run_id,
                  context.advice).json
