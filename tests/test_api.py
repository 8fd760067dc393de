"""The REST API of spec §6, in process, against SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import json
from html.parser import HTMLParser
from pathlib import Path

import yaml
from sqlalchemy import create_engine, text

from app.settings import Settings
from tests.conftest import EXAMPLES, base_answers

RECORDED = Path(__file__).parent / "data" / "probe-run-recorded.json"


def example(name: str = "startup-vision-api-and-android") -> dict:
    return yaml.safe_load(next(p for p in EXAMPLES if p.stem == name).read_text())


def create(client, answers=None, **extra):
    response = client.post("/api/v1/reports", json={"answers": answers or example(), **extra})
    assert response.status_code == 201, response.text
    return response.json()


class TextOf(HTMLParser):
    """Collects the text of elements by id, to check HTML with a parser."""

    def __init__(self):
        super().__init__()
        self.by_id: dict[str, str] = {}
        self._stack: list[str | None] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("br", "input", "meta", "link", "rect", "img"):
            return
        self._stack.append(dict(attrs).get("id"))

    def handle_endtag(self, tag):
        if self._stack and tag not in ("br", "input", "meta", "link", "rect", "img"):
            self._stack.pop()

    def handle_data(self, data):
        for element_id in self._stack:
            if element_id:
                self.by_id[element_id] = self.by_id.get(element_id, "") + data


def test_questionnaire_endpoint_serves_the_spec_questions(client):
    data = client.get("/api/v1/questionnaire").json()
    ids = {q["id"] for s in data["sections"] for q in s["questions"]}
    assert {"role", "team_experience", "priorities", "deployment_targets", "latency_budget_ms",
            "project_name"} <= ids
    rules = client.get("/api/v1/rules").json()
    assert len(rules["scoring"]) >= 40 and all(r["sources"] for r in rules["scoring"])


def test_recommendation_matches_the_core(client, rule_set):
    from app.decision.questionnaire import validate_answers
    from app.decision.scoring import score_answers

    response = client.post("/api/v1/recommendations", json={"answers": example()})
    assert response.status_code == 200
    expected = score_answers(rule_set, validate_answers(rule_set.questionnaire, example()))
    assert response.json() == expected.model_dump(mode="json")


def test_bad_answers_get_422_naming_each_question_and_the_allowed_values(client):
    answers = {**base_answers(), "role": "wizard", "priorities": ["a", "b"], "colour": 1}
    response = client.post("/api/v1/recommendations", json={"answers": answers})
    assert response.status_code == 422
    detail = {tuple(d["loc"]): d["msg"] for d in response.json()["detail"]}
    assert "student, researcher, startup, enterprise" in detail[("body", "answers", "role")]
    assert ("body", "answers", "priorities") in detail
    assert "unknown question" in detail[("body", "answers", "colour")]


def test_malformed_bodies_get_422(client):
    assert client.post("/api/v1/recommendations", content=b"{not json",
                       headers={"content-type": "application/json"}).status_code == 422
    assert client.post("/api/v1/recommendations", json={"answers": []}).status_code == 422
    assert client.post("/api/v1/reports", json={"answers": example(), "title": "x" * 121}
                       ).status_code == 422


def test_report_round_trip_json_html_and_markdown(client):
    created = create(client, title="Vision <script>alert(1)</script>")
    report_id = created["id"]
    assert created["url"] == f"/r/{report_id}"
    assert len(base64.urlsafe_b64decode(report_id + "==")) * 8 >= 128
    api = client.get(f"/api/v1/reports/{report_id}")
    assert api.status_code == 200
    assert api.json()["recommendation"] == created["recommendation"]
    twin = client.get(f"/r/{report_id}.json")
    assert twin.json() == api.json()
    page = client.get(f"/r/{report_id}")
    assert page.status_code == 200
    for response in (api, twin, page):
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"
    assert f"</r/{report_id}.json>" in page.headers["link"]
    parsed = TextOf()
    parsed.feed(page.text)
    assert parsed.by_id["recommended"] == {"pytorch": "PyTorch", "tensorflow": "TensorFlow"}[
        created["recommendation"]["recommended"]]
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    markdown = client.get(f"/r/{report_id}.md")
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert "attachment" in markdown.headers["content-disposition"]
    assert "**Recommended: TensorFlow**" in markdown.text
    assert "<script>" not in markdown.text


def test_ids_are_unique_and_unguessable(client):
    ids = {create(client)["id"] for _ in range(20)}
    assert len(ids) == 20


def test_delete_needs_the_token_and_only_delete_deletes(client, settings):
    created = create(client)
    report_id, token = created["id"], created["delete_token"]
    path = f"/api/v1/reports/{report_id}"
    assert client.delete(path).status_code == 401
    assert client.delete(path, headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.get(path, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.get(f"{path}?delete_token={token}").status_code == 200
    engine = create_engine(settings.database_url)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT delete_token_hash FROM reports WHERE id = :id"),
                                    {"id": report_id}).scalar_one()
    engine.dispose()
    assert stored == hashlib.sha256(token.encode()).hexdigest() and token not in stored
    assert client.delete(path, headers={"Authorization": f"Bearer {token}"}).status_code == 204
    assert client.get(path).status_code == 404
    assert client.delete(path, headers={"Authorization": f"Bearer {token}"}).status_code == 404


def test_malformed_and_unknown_ids_get_the_same_404(client):
    unknown = client.get("/api/v1/reports/AAAAAAAAAAAAAAAAAAAAAAAA")
    malformed = client.get("/api/v1/reports/../../etc")
    weird = client.get("/api/v1/reports/%27%20OR%201=1")
    assert unknown.status_code == malformed.status_code == weird.status_code == 404
    assert unknown.json() == weird.json()
    assert client.get("/r/AAAAAAAAAAAAAAAAAAAAAAAA.json").json() == unknown.json()
    assert client.get("/r/nope").status_code == 404


def test_every_response_carries_csp_and_nosniff(client):
    report_id = create(client)["id"]
    responses = [client.get(p) for p in ("/", f"/r/{report_id}", "/api/v1/questionnaire",
                                        "/static/style.css", "/nope", "/healthz", "/robots.txt")]
    responses.append(client.post("/api/v1/recommendations", json={"answers": {}}))
    for response in responses:
        assert response.headers["x-content-type-options"] == "nosniff", response.url
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "http" not in csp


def test_robots_txt_disallows_report_pages(client):
    assert "Disallow: /r/" in client.get("/robots.txt").text


def test_bodies_over_2_mib_get_413(client):
    big = b'{"answers": {"project_name": "' + b"x" * (2 * 1024 * 1024) + b'"}}'
    response = client.post("/api/v1/reports", content=big,
                           headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.headers["x-content-type-options"] == "nosniff"

    def chunks():
        for _ in range(40):
            yield b"x" * 65536

    chunked = client.post("/api/v1/probe-runs/import", content=chunks(),
                          headers={"content-type": "application/json"})
    assert chunked.status_code == 413


def test_creating_reports_and_probe_runs_is_rate_limited(database_url):
    from fastapi.testclient import TestClient

    from app.web.main import create_app

    settings = Settings(database_url=database_url, rate_limit_enabled=True,
                        rate_limit_reports_per_minute=3, rate_limit_probe_runs_per_hour=2)
    with TestClient(create_app(settings, run_probe_worker=False)) as client:
        codes = [client.post("/api/v1/reports", json={"answers": example()}).status_code
                 for _ in range(4)]
        assert codes == [201, 201, 201, 429]
        limited = client.post("/api/v1/reports", json={"answers": example()})
        assert int(limited.headers["retry-after"]) >= 1
        runs = [client.post("/api/v1/probe-runs", json={"models": ["mlp"]}).status_code
                for _ in range(3)]
        assert runs == [202, 202, 429]
        # reading is never limited
        assert client.post("/api/v1/recommendations", json={"answers": example()}
                           ).status_code == 200


def test_server_errors_return_a_generic_body(client, settings):
    engine = create_engine(settings.database_url)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE reports"))
    engine.dispose()
    response = client.post("/api/v1/reports", json={"answers": example()})
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error"}
    assert "Traceback" not in response.text and "reports" not in response.text


def test_delete_tokens_never_reach_the_logs(client, caplog):
    caplog.set_level("DEBUG")
    created = create(client)
    client.delete(f"/api/v1/reports/{created['id']}",
                  headers={"Authorization": f"Bearer {created['delete_token']}"})
    assert created["delete_token"] not in caplog.text


def test_a_report_renders_as_made_after_the_rules_change(database_url, rules_copy):
    from fastapi.testclient import TestClient

    from app.web.main import create_app

    with TestClient(create_app(Settings(database_url=database_url, rate_limit_enabled=False),
                               run_probe_worker=False)) as client:
        created = create(client)
        before = client.get(f"/api/v1/reports/{created['id']}").json()
        page_before = client.get(f"/r/{created['id']}").text
    questionnaire = rules_copy / "questionnaire.yaml"
    questionnaire.write_text(questionnaire.read_text().replace(
        "What kind of organisation is this for?", "Organisation type (renamed)"))
    team = rules_copy / "scoring" / "deployment.yaml"
    team.write_text(team.read_text().replace("points: {tensorflow: 2}", "points: {tensorflow: 5}"))
    changed = Settings(database_url=database_url, rules_dir=rules_copy, rate_limit_enabled=False)
    with TestClient(create_app(changed, run_probe_worker=False)) as client:
        after = client.get(f"/api/v1/reports/{created['id']}").json()
        assert after == before
        assert client.get(f"/r/{created['id']}").text == page_before
        fresh = client.post("/api/v1/recommendations", json={"answers": example()}).json()
        assert fresh["rules_version"] != before["rules_version"]


def test_probe_runs_queue_report_status_and_import(client):
    started = client.post("/api/v1/probe-runs", json={"models": ["mlp"], "mode": "quick"})
    assert started.status_code == 202
    run = started.json()
    assert run["status"] == "queued" and run["queued_ahead"] == 0
    second = client.post("/api/v1/probe-runs", json={}).json()
    assert second["queued_ahead"] == 1 and second["models"] == ["mlp", "cnn", "transformer"]
    status = client.get(f"/api/v1/probe-runs/{run['id']}").json()
    assert status["status"] == "queued" and status["results"] is None
    assert client.post("/api/v1/probe-runs", json={"models": ["resnet"]}).status_code == 422
    assert client.post("/api/v1/probe-runs", json={"mode": "slow"}).status_code == 422
    assert client.get("/api/v1/probe-runs/AAAAAAAAAAAAAAAAAAAAAAAA").status_code == 404


def test_imported_probe_runs_become_evidence_by_id(client):
    document = json.loads(RECORDED.read_text())
    imported = client.post("/api/v1/probe-runs/import", json=document)
    assert imported.status_code == 201
    run = imported.json()
    assert run["source"] == "imported" and run["status"] == document["status"]
    assert run["results"]["measurements"] == document["measurements"]
    rec = client.post("/api/v1/recommendations", json={
        "answers": example(), "probe_run_id": run["id"]}).json()
    assert rec["evidence"]["probe_run_id"] == run["id"]
    assert rec["evidence"]["chosen"] == "requested"
    assert {c["id"] for c in rec["evidence"]["claims"]} >= {"torch-compile-30-60"}
    # imported runs are not "this machine": they are never picked by default
    assert client.post("/api/v1/recommendations", json={"answers": example()}
                       ).json()["evidence"] is None
    bad = client.post("/api/v1/probe-runs/import", json={**document, "schema": "x@1"})
    assert bad.status_code == 422 and "schema" in bad.text
    unknown = client.post("/api/v1/recommendations", json={
        "answers": example(), "probe_run_id": "AAAAAAAAAAAAAAAAAAAAAAAA"})
    assert unknown.status_code == 404 and "probe_run_id" in unknown.text


def test_latest_successful_local_run_is_used_by_default_and_named(settings):
    from fastapi.testclient import TestClient

    from app.storage import probe_runs
    from app.web.main import create_app

    # Which run is the latest is asked at start and then at most once per
    # ADVISOR_READ_CACHE_TTL_S; 0 asks on every request, so a run finished just now (here,
    # straight in the database, as another process would) is used at once.
    app = create_app(settings.model_copy(update={"read_cache_ttl_s": 0.0}),
                     run_probe_worker=False)
    with TestClient(app) as client:
        sessions = client.app.state.context.sessions
        row = probe_runs.enqueue(sessions, models=["mlp"], frameworks=["pytorch"], mode="quick")
        claimed = probe_runs.claim(sessions, probe_runs.Claimant("server", (), "test"),
                                   probe_runs.LeasePolicy(lease_s=60, max_attempts=3))
        assert claimed.id == row.id
        assert probe_runs.finish(sessions, row.id, "server", claimed.lease_id, "succeeded",
                                 json.loads(RECORDED.read_text()))
        report = create(client)
        evidence = report["recommendation"]["evidence"]
        assert evidence["probe_run_id"] == row.id and evidence["chosen"] == "latest"
        stored = client.get(f"/api/v1/reports/{report['id']}").json()
        assert stored["probe_run_id"] == row.id
        page = client.get(f"/r/{report['id']}").text
        assert "Popular claims, checked here" in page and "lat-mlp" in page


def test_openapi_declares_error_statuses(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    assert {"404"} <= set(paths["/api/v1/reports/{report_id}"]["get"]["responses"])
    assert {"413", "422", "429"} <= set(paths["/api/v1/reports"]["post"]["responses"])
    assert {"413", "422", "429"} <= set(paths["/api/v1/probe-runs"]["post"]["responses"])
    assert {"413", "422"} <= set(paths["/api/v1/recommendations"]["post"]["responses"])
    answers = spec["components"]["schemas"]["Answers"]
    assert answers["properties"]["role"]["enum"] == ["student", "researcher", "startup",
                                                      "enterprise"]
    assert client.get("/docs").status_code == 200
