"""POST /api/v1/recommendations: answers in, recommendation out; nothing stored."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from app.decision.recommendation import Recommendation
from app.web.advice import advise, advise_in_memory
from app.web.api.bodies import body_schema, parse_json_body
from app.web.api.schemas import RecommendationRequest, errors
from app.web.context import ServiceContext
from app.web.several_runs import advise_with_runs, cited_run_ids

router = APIRouter(prefix="/api/v1", tags=["recommendations"])
# A body this small is parsed, validated and scored on the event loop when nothing needs the
# database: the work is bounded by the questionnaire (about 0.3 ms, 1-2.5 ms with evidence;
# `advisor bench scoring`), and the trip to the thread pool would cost more than the work.
INLINE_BODY_BYTES = 4096


@router.post("/recommendations", response_model=Recommendation,
             responses=errors(400, 404, 409, 413, 422),
             openapi_extra=body_schema("RecommendationRequest"),
             summary="Score answers and return the recommendation")
async def recommend(request: Request) -> Response:
    # The context is read off the app rather than through a dependency: on this route, taken
    # by every scripted client, FastAPI's dependency resolution cost more than the lookup.
    # (Most requests never reach here: app/web/recommendation_lane.py answers them first,
    # through the same recommendation_bytes.)
    context: ServiceContext = request.app.state.context
    return Response(await recommendation_bytes(context, await request.body()),
                    media_type="application/json")


async def recommendation_bytes(context: ServiceContext, body: bytes) -> bytes:
    """Return the recommendation JSON for a request body; RequestValidationError,
    AnswersError or ProbeRunNotUsable on bad input (each answered by the app's handlers).

    A small body whose probe run (if any) is already in memory is answered inline, from the
    memo (keyed by the validated answers) or by scoring; large bodies and anything that needs
    the database go to a worker thread."""
    if len(body) <= INLINE_BODY_BYTES:
        parsed = parse_json_body(RecommendationRequest, body, context.separator_budget)
        # Several cited runs need the database for their machines' labels: never inline.
        found = None if parsed.probe_run_ids else advise_in_memory(
            context.rule_set, context.advice, parsed.answers, parsed.probe_run_id)
        if found is not None:
            return found
    return await run_in_threadpool(_recommend, context, body)


def _recommend(context: ServiceContext, body: bytes) -> bytes:
    parsed = parse_json_body(RecommendationRequest, body, context.separator_budget)
    if parsed.probe_run_ids:
        cited = cited_run_ids(parsed.probe_run_id, parsed.probe_run_ids)
        return advise_with_runs(context.rule_set, context.sessions, parsed.answers, cited,
                                context.advice)[0].json
    return advise(context.rule_set, context.sessions, parsed.answers, parsed.probe_run_id,
                  context.advice).json
