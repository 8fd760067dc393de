"""POST /api/v1/recommendations: answers in, recommendation out; nothing stored."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.advice import advise
from app.api.deps import ContextDep
from app.api.schemas import RecommendationRequest, errors
from app.recommendation import Recommendation

router = APIRouter(prefix="/api/v1", tags=["recommendations"])


@router.post("/recommendations", response_model=Recommendation,
             responses=errors(400, 404, 409, 413, 422),
             summary="Score answers and return the recommendation")
def recommend(body: RecommendationRequest, context: ContextDep) -> Response:
    recommendation = advise(context.rule_set, context.sessions, body.answers,
                            body.probe_run_id).recommendation
    # Serialised once by its own model: FastAPI would validate the finished object again.
    return Response(recommendation.model_dump_json(), media_type="application/json")
