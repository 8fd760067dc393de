"""Issue 11 without a browser: plain words (flips, claim checks, rule conditions), the form
starting unanswered and from a report, compare, the delete-token cookie checked against
its hash, HTML 404 for browsers, favicon, Markdown without Python dicts, progress words
and the probe-run log lines."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from pathlib import Path

import pytest
import yaml

from app.decision.probe_document import ProbeRunDocument
from app.decision.questionnaire import validate_answers
from app.decision.recommendation import ClaimVerdict
from app.decision.scoring import score_answers
from app.web.progress import duration_words, progress_line
from app.web.wording import claim_check, condition_words, measure_words
from tests.conftest import EXAMPLES

RECORDED = Path(__file__).parent / "data" / "probe-run-recorded.json"
FORM = {"content-type": "application/x-www-form-urlencoded"}


def test_claim_checks_and_rule_conditions_read_as_words(rule_set):
    claim = ClaimVerdict(id="c", claim="torch.compile is faster",
                         measured="pytorch compile vs eager: latency_ms_b1 p50 speed-up",
                         threshold="gte 1.3", verdict="holds", per_model=[], why="w" * 10,
                         sources=["s"])
    assert claim_check(claim) == ("PyTorch torch.compile vs eager: median latency at batch 1 "
                                  "speed-up of at least 1.3×")
    assert measure_words("tensorflow litert_int8 artifact_bytes value (cnn)") == \
        "TensorFlow LiteRT int8 exported model size (cnn)"
    q = rule_set.questionnaire
    text = condition_words({"all": [{"question": "team_experience", "equals": "tensorflow"},
                                    {"question": "team_size", "one_of": ["medium", "large"]}]}, q)
    assert text == ("“Which framework does the team already know well?” is “TensorFlow / Keras” "
                    "and “How many people will work on the models?” is “6 to 20 people” or "
                    "“More than 20 people”")
    for loaded in rule_set.rules:  # every shipped rule says when it fires without ids
        words = condition_words(loaded.rule.when, q)
        assert not re.search(r"\b(team_experience|deployment_targets|latency_ms_b1|gte)\b", words)


def test_the_questionnaire_starts_unanswered_and_can_start_from_a_report(client):
    page = client.get("/").text
    assert " checked" not in page
    answers = yaml.safe_load(EXAMPLES[0].read_text())
    created = client.post("/api/v1/reports", json={"answers": answers}).json()
    filled = client.get(f"/?from={created['id']}").text
    checked = set(re.findall(r'name="(\w+)" value="(\w+)" checked', filled))
    for qid, value in answers.items():
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, str) and qid != "project_name":
                assert (qid, v) in checked, (qid, v)
    assert f'name="from_report" value="{created["id"]}"' in filled
    gone = client.get("/?from=AAAAAAAAAAAAAAAAAAAAAAAA", headers={"accept": "text/html"})
    assert gone.status_code == 404 and "does not exist" in gone.text


def test_a_forged_delete_token_cookie_is_neither_shown_nor_a_way_past_the_cache(client):
    answers = yaml.safe_load(EXAMPLES[0].read_text())
    created = client.post("/api/v1/reports", json={"answers": answers}).json()
    rid = created["id"]
    cookie = f"delete_token_{rid}"
    forged = client.get(f"/r/{rid}", headers={"cookie": f"{cookie}=forged-token-value"})
    assert forged.status_code == 200 and "forged-token-value" not in forged.text
    assert client.app.state.context.renders.peek(("html", rid)) is not None  # cached page used
    real = client.get(f"/r/{rid}", headers={"cookie": f"{cookie}={created['delete_token']}"})
    assert created["delete_token"] in real.text
    assert "curl -X DELETE" in real.text and f"/api/v1/reports/{rid}" in real.text


def test_compare_page_lists_differences_in_words(client):
    answers = yaml.safe_load(EXAMPLES[0].read_text())
    first = client.post("/api/v1/reports", json={"answers": answers}).json()
    changed = {**answers, "team_experience": "tensorflow" if answers["team_experience"] !=
               "tensorflow" else "pytorch"}
    second = client.post("/api/v1/reports", json={"answers": changed}).json()
    page = client.get(f"/r/{first['id']}/compare",
                      params={"other": f"https://example.org/r/{second['id']}"}).text
    assert "Which framework does the team already know well?" in page
    assert "team_experience" not in page
    refused = client.get(f"/r/{first['id']}/compare", params={"other": "not a link"})
    assert refused.status_code == 422 and "not a link to a report" in refused.text


def test_browsers_get_an_html_404_and_scripts_keep_json(client):
    page = client.get("/no/such/page", headers={"accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "<h1>Not found</h1>" in page.text
    api = client.get("/api/v1/reports/AAAAAAAAAAAAAAAAAAAAAAAA", headers={"accept": "text/html"})
    assert api.status_code == 404 and api.json() == {"detail": "report not found"}
    script = client.get("/no/such/page")
    assert script.status_code == 404 and script.json()["detail"] == "Not Found"
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert icon.content.startswith(b"<svg")


def test_markdown_has_no_python_dicts_escaped_arrows_or_ids(client):
    client.post("/api/v1/probe-runs/import", json=json.loads(RECORDED.read_text()))
    run_id = client.get("/api/v1/probe-runs").json()[0]["id"]
    answers = yaml.safe_load(next(e for e in EXAMPLES if "edge" in e.name).read_text())
    created = client.post("/api/v1/reports", json={"answers": answers, "probe_run_id": run_id})
    text = client.get(f"/r/{created.json()['id']}.md").text
    assert "{'" not in text and "-\\>" not in text and "->" not in text
    assert "PyTorch 2.13.0" in text
    flips = client.get(f"/r/{created.json()['id']}.json").json()["recommendation"]["flips"]
    assert ("\n- If " in text) == bool(flips)  # flips are sentences, one bullet each
    assert "latency\\_ms\\_b1" not in text and "at least 1.3×" in text


def test_progress_says_elapsed_and_what_is_left():
    start = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    now = start + dt.timedelta(seconds=60)
    line = progress_line({"total": 40, "done": 10, "current": "tensorflow/mlp"}, "running",
                         start, now)
    assert line == ("10 of 40 steps — running tensorflow/mlp — 1 min 00 s elapsed, about "
                    "3 min 00 s left")
    assert progress_line(None, "queued", None, now) == "queued — waiting to start"
    assert duration_words(5.4) == "5 s"


def test_the_probe_worker_logs_start_finish_and_failure(settings, caplog):
    from app.storage import probe_runs
    from app.storage.database import make_engine, migrate, session_factory
    from app.web.probe_worker import ProbeWorker

    engine = make_engine(settings.database_url)
    migrate(engine)
    sessions = session_factory(engine)
    document = ProbeRunDocument.model_validate(json.loads(RECORDED.read_text()))

    def recorded(*args, **kwargs):  # stands in for the subprocesses: the run is not the point
        return document

    def broken(*args, **kwargs):
        raise RuntimeError("tensorflow worker exited with code 1")

    caplog.set_level(logging.INFO, logger="advisor.probes")
    for executor in (recorded, broken):
        worker = ProbeWorker(sessions, 60, executor=executor)
        row = probe_runs.enqueue(sessions, models=["mlp"], frameworks=["tensorflow"], mode="quick")
        assert worker.run_one() == row.id
    lines = [r.getMessage() for r in caplog.records if r.name == "advisor.probes"]
    assert sum("started" in line for line in lines) == 2
    assert any(re.search(r"finished: \w+ in \d+ s, \d+ measurement", line) for line in lines)
    assert any("failed after" in line for line in lines)
    engine.dispose()


@pytest.mark.parametrize("path", ["/rules"])
def test_rules_page_says_when_each_rule_fires(client, rule_set, path):
    page = client.get(path).text
    assert "“Which framework does the team already know well?” is “PyTorch”" in page
    assert 'id="rule-filter"' in page and 'data-group="Team skills and hiring"' in page


def test_scoring_with_the_recorded_run_still_renders(client, rule_set):
    # the report page renders claims in words for a real recommendation with evidence
    document = ProbeRunDocument.model_validate(json.loads(RECORDED.read_text()))
    answers = validate_answers(rule_set.questionnaire, yaml.safe_load(EXAMPLES[0].read_text()))
    rec = score_answers(rule_set, answers, document)
    assert rec.evidence is not None
    assert all("×" in claim_check(c) or "at least" in claim_check(c) or "at most" in claim_check(c)
               for c in rec.evidence.claims)


def test_the_run_history_shows_duration_and_machine(client):
    client.post("/api/v1/probe-runs/import", json=json.loads(RECORDED.read_text()))
    page = client.get("/probes").text
    machines = re.findall(r'class="run-machine">([^<]*)<', page)
    durations = re.findall(r'class="run-duration">([^<]*)<', page)
    assert machines and machines[0].startswith("AMD EPYC") and "thread(s)" in machines[0]
    assert durations and durations[0] != ""


def test_the_form_refuses_a_probe_run_id_that_names_nothing(client):
    from tests.test_pages import form_body

    answers = yaml.safe_load(EXAMPLES[0].read_text())
    for bad in ("../../etc", "AAAAAAAAAAAAAAAAAAAAAAAA"):
        response = client.post("/reports", content=form_body(answers) + "&probe_run_id=" + bad,
                               headers=FORM, follow_redirects=False)
        assert response.status_code in (404, 409), response.status_code
        assert "probe run" in response.text and 'name="role"' in response.text
