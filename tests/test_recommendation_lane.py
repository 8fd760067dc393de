"""The direct lane for POST /api/v1/recommendations (app/web/recommendation_lane.py) answers
without FastAPI's routing. A client must not be able to tell: every response (status, bytes,
headers in order) equals the one the same app without the lane gives."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from app.storage import probe_runs
from app.web.api.recommendations import INLINE_BODY_BYTES
from app.web.main import create_app
from app.web.recommendation_lane import RecommendationLane
from app.web.security import SecurityMiddleware
from tests.conftest import EXAMPLES, base_answers

PATH = "/api/v1/recommendations"
RECORDED = Path(__file__).parent / "data" / "probe-run-recorded.json"
JSON = {"content-type": "application/json"}


@pytest.fixture
def apps(settings) -> Iterator[tuple[TestClient, TestClient]]:
    """(the app, the same app without the lane), on one database. Starlette builds the
    middleware stack on the first request, so dropping the lane from the list removes it."""
    plain = create_app(settings, run_probe_worker=False)
    plain.user_middleware = [m for m in plain.user_middleware if m.cls is not RecommendationLane]
    with TestClient(create_app(settings, run_probe_worker=False)) as laned, \
            TestClient(plain) as without:
        yield laned, without


def _same(apps: tuple[TestClient, TestClient], method: str, url: str, **kwargs: Any) -> Any:
    laned, without = apps
    got, expected = laned.request(method, url, **kwargs), without.request(method, url, **kwargs)
    assert got.status_code == expected.status_code, (method, url, got.text[:300])
    assert got.content == expected.content, (method, url)
    assert got.headers.multi_items() == expected.headers.multi_items(), (method, url)
    return got


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


def test_answers_are_what_the_app_without_the_lane_sends(apps, rule_set):
    rng = random.Random(7)
    answer_sets = [yaml.safe_load(p.read_text()) for p in EXAMPLES]
    answer_sets += [_random_answers(rule_set, rng) for _ in range(12)]
    for answers in answer_sets:
        body = json.dumps({"answers": answers}).encode()
        got = _same(apps, "POST", PATH, content=body, headers=JSON)
        assert got.status_code == 200
        assert got.headers["x-content-type-options"] == "nosniff"  # inside the security layer
        # Padded past the inline limit: scored in a worker thread, the same bytes.
        padded = body[:1] + b" " * (INLINE_BODY_BYTES + 1) + body[1:]
        assert _same(apps, "POST", PATH, content=padded, headers=JSON).content == got.content


def test_bad_input_gets_what_the_app_without_the_lane_sends(apps):
    sessions = apps[0].app.state.context.sessions
    queued = probe_runs.enqueue(sessions, models=["mlp"], frameworks=["pytorch"], mode="quick")
    payloads = [
        {"answers": {**base_answers(), "role": "wizard"}},  # a bad answer: 422 naming it
        {"answers": []},  # the wrong shape: 422 from the request model
        {"answers": base_answers(), "colour": "red"},  # an unknown field
        {"answers": base_answers(), "probe_run_id": "AAAAAAAAAAAAAAAAAAAAAAAA"},  # 404
        {"answers": base_answers(), "probe_run_id": queued.id},  # 409: no results yet
        {"answers": base_answers(), "probe_run_ids": ["AAAAAAAAAAAAAAAAAAAAAAAA"]},
    ]
    statuses = set()
    for payload in payloads:
        statuses.add(_same(apps, "POST", PATH, json=payload).status_code)
    assert statuses >= {404, 409, 422}
    for body in (b"{not json", b"", b"[]", b'{"answers": {}}' + b" " * INLINE_BODY_BYTES):
        assert _same(apps, "POST", PATH, content=body, headers=JSON).status_code == 422


def test_other_requests_to_the_path_get_what_the_app_without_the_lane_sends(apps):
    for method in ("GET", "HEAD", "PUT", "DELETE", "OPTIONS"):
        assert _same(apps, method, PATH).status_code == 405, method
    _same(apps, "POST", PATH + "/", json={"answers": base_answers()}, follow_redirects=False)
    _same(apps, "POST", "/api/v1/recommendation", json={"answers": base_answers()})


@pytest.mark.parametrize(("root_path", "url"), [
    ("/svc", "/svc/api/v1/recommendations"),  # behind a proxy that adds a prefix
    ("/api", "/api/v1/recommendations"),
    ("/api", "/v1/recommendations"),  # not the route once the root path is taken off
    ("/api/v1", "/recommendations"),
])
def test_a_root_path_routes_alike(settings, root_path, url):
    plain = create_app(settings, run_probe_worker=False)
    plain.user_middleware = [m for m in plain.user_middleware if m.cls is not RecommendationLane]
    with TestClient(create_app(settings, run_probe_worker=False), root_path=root_path) as laned, \
            TestClient(plain, root_path=root_path) as without:
        _same((laned, without), "POST", url, json={"answers": base_answers()})


def test_the_lane_answers_by_itself_and_passes_the_rest_on(client):
    # The lane over an application that only records what reaches it: a valid body and bad
    # input are answered by the lane (with the app's own error handlers); anything else
    # reaches the application.
    reached: list[str] = []

    async def application(scope, receive, send):
        reached.append(f"{scope['method']} {scope['path']}")
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = client.app
    lane = RecommendationLane(application, app.state.context, app.exception_handlers)
    direct = TestClient(lane)  # not entered: no lifespan, only the requests below
    answered = direct.post(PATH, json={"answers": base_answers()})
    assert answered.status_code == 200
    assert answered.json()["recommended"] in ("pytorch", "tensorflow")
    bad = direct.post(PATH, json={"answers": {**base_answers(), "role": "wizard"}})
    assert bad.status_code == 422 and "role" in bad.text
    assert reached == []
    assert direct.get(PATH).status_code == 418
    assert direct.post("/api/v1/reports", json={}).status_code == 418
    assert reached == [f"GET {PATH}", "POST /api/v1/reports"]


def test_the_lane_sits_inside_the_security_middleware(client):
    # Outermost first: host checks, cross-site refusal and the body limit apply to the lane.
    order = [m.cls for m in client.app.user_middleware]
    assert order.index(SecurityMiddleware) < order.index(RecommendationLane)
    refused = client.post(PATH, json={"answers": base_answers()},
                          headers={"sec-fetch-site": "cross-site"})
    assert refused.status_code == 403


def test_start_up_asks_which_run_is_the_latest(settings):
    # So a first burst of requests is answered on the event loop instead of each asking the
    # database from a worker thread. (A long TTL: the answer must not expire mid-test.)
    app = create_app(settings.model_copy(update={"read_cache_ttl_s": 3600.0}),
                     run_probe_worker=False)
    usable, latest = app.state.context.advice.known_latest()
    assert usable and latest is None


def test_a_run_finished_after_start_is_used_once_the_cache_expires(settings):
    # A run finished by another process (here: straight in the database) is used once the
    # latest-run answer expires, by the first request after that and every one since.
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
        bad = client.post(PATH, json={"answers": {**base_answers(), "role": "wizard"}})
        assert bad.status_code == 422
        for _ in range(2):
            evidence = client.post(PATH, json={"answers": base_answers()}).json()["evidence"]
            assert evidence is not None and evidence["probe_run_id"] == row.id
            assert evidence["chosen"] == "latest"
