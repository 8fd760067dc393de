"""The direct lane for POST /api/v1/recommendations (app/web/recommendation_lane.py) answers
small, valid bodies without FastAPI's routing. A client must not be able to tell: the same
bytes, status and headers as the route, which still answers everything else."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.web.api.recommendations import INLINE_BODY_BYTES
from app.web.recommendation_lane import RecommendationLane
from app.web.security import SecurityMiddleware
from tests.conftest import EXAMPLES, base_answers

PATH = "/api/v1/recommendations"
RECORDED = Path(__file__).parent / "data" / "probe-run-recorded.json"


def _via_lane_and_via_route(client: Any, payload: Any) -> tuple[Any, Any]:
    """POST the payload as a small body (the lane takes it) and padded with whitespace past
    the inline limit (only the route takes that); return both responses."""
    small = json.dumps(payload).encode()
    assert len(small) <= INLINE_BODY_BYTES
    padded = small[:1] + b" " * (INLINE_BODY_BYTES + 1) + small[1:]
    headers = {"content-type": "application/json"}
    return (client.post(PATH, content=small, headers=headers),
            client.post(PATH, content=padded, headers=headers))


def _headers(response: Any) -> list[tuple[str, str]]:
    return sorted(response.headers.multi_items())


def _random_answers(rule_set: Any, rng: random.Random) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for question in rule_set.questionnaire.questions():
        values = [v for v in question.values if v not in question.exclusive]
        if question.type == "single":
            answers[question.id] = rng.choice(values)
        elif question.type == "multi" and question.required:
            answers[question.id] = rng.sample(values, rng.randint(1, min(3, len(values))))
        elif question.type == "boolean":
            answers[question.id] = rng.random() < 0.5
    answers["models_in_production"] = rng.randrange(1, 5000)
    return answers


def test_the_lane_answers_like_the_route(client, rule_set):
    rng = random.Random(7)
    answer_sets = [yaml.safe_load(p.read_text()) for p in EXAMPLES]
    answer_sets += [_random_answers(rule_set, rng) for _ in range(12)]
    for answers in answer_sets:
        lane, route = _via_lane_and_via_route(client, {"answers": answers})
        assert lane.status_code == route.status_code == 200, lane.text[:300]
        assert lane.content == route.content
        assert _headers(lane) == _headers(route)
        assert lane.headers["content-type"] == "application/json"
        assert lane.headers["x-content-type-options"] == "nosniff"  # inside the security layer


@pytest.mark.parametrize("payload", [
    {"answers": {**base_answers(), "role": "wizard"}},  # a bad answer: 422 naming it
    {"answers": []},  # the wrong shape: 422 from the request model
    {"answers": base_answers(), "probe_run_id": "no-such-run"},  # 404 naming the run
    {"answers": base_answers(), "colour": "red"},  # an unknown field
])
def test_what_the_lane_does_not_answer_the_route_does(client, payload):
    lane, route = _via_lane_and_via_route(client, payload)
    assert lane.status_code == route.status_code
    assert 400 <= lane.status_code < 500
    assert lane.content == route.content
    assert _headers(lane) == _headers(route)


def test_a_body_that_is_not_json_gets_the_routes_422(client):
    response = client.post(PATH, content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


def test_other_methods_on_the_path_are_still_refused_by_the_app(client):
    for method in ("GET", "PUT", "DELETE"):
        response = client.request(method, PATH)
        assert response.status_code == 405, method
        assert response.headers["allow"] == "POST"


def test_the_lane_sits_inside_the_security_middleware(client):
    # Outermost first: host checks, cross-site refusal and the body limit apply to the lane.
    order = [m.cls for m in client.app.user_middleware]
    assert order.index(SecurityMiddleware) < order.index(RecommendationLane)
    refused = client.post(PATH, json={"answers": base_answers()},
                          headers={"sec-fetch-site": "cross-site"})
    assert refused.status_code == 403


def test_the_first_request_after_start_needs_no_database_round_trip(client):
    # Start-up asks which probe run is the latest, so a first burst of requests is answered
    # on the event loop instead of queueing for the database in worker threads.
    usable, _ = client.app.state.context.advice.known_latest()
    assert usable


def test_a_run_finished_after_start_is_used_once_the_cache_expires(settings):
    # The first request after the latest-run answer expires is told to ask the database; the
    # lane must hand that turn on to the request that asks, not spend it and leave every
    # request on the stale answer (a run finished in another process was never used).
    from fastapi.testclient import TestClient

    from app.storage import probe_runs
    from app.web.main import create_app

    app = create_app(settings.model_copy(update={"read_cache_ttl_s": 0.2}),
                     run_probe_worker=False)
    with TestClient(app) as client:
        assert client.post(PATH, json={"answers": base_answers()}).json()["evidence"] is None
        sessions = client.app.state.context.sessions
        row = probe_runs.enqueue(sessions, models=["mlp"], frameworks=["pytorch"], mode="quick")
        claimed = probe_runs.claim(sessions, probe_runs.Claimant("server", (), "test"),
                                   probe_runs.LeasePolicy(lease_s=60, max_attempts=3))
        assert claimed is not None and claimed.id == row.id
        assert probe_runs.finish(sessions, row.id, "server", claimed.lease_id, "succeeded",
                                 json.loads(RECORDED.read_text()))
        time.sleep(0.3)  # past the 0.2 s the latest-run answer is trusted
        evidence = client.post(PATH, json={"answers": base_answers()}).json()["evidence"]
        assert evidence is not None and evidence["probe_run_id"] == row.id
        assert evidence["chosen"] == "latest"
        bad = client.post(PATH, json={"answers": {**base_answers(), "role": "wizard"}})
        assert bad.status_code == 422
