"""Server-rendered pages (no browser): the form speaks the API's language, refused answers
come back inline, reports can wait for a probe run, user text is escaped."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode

import yaml

from tests.conftest import EXAMPLES

RECORDED = Path(__file__).parent / "data" / "probe-run-recorded.json"


class Inputs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.inputs: list[dict] = []
        self.errors: dict[str, str] = {}
        self._error_for: str | None = None
        self.ids: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "input":
            self.inputs.append(a)
        if tag == "p" and a.get("class") == "error":
            self._error_for = a["id"].removesuffix("-error")

    def handle_data(self, data):
        if self._error_for:
            self.errors[self._error_for] = self.errors.get(self._error_for, "") + data

    def handle_endtag(self, tag):
        if tag == "p":
            self._error_for = None


def parse(html: str) -> Inputs:
    parser = Inputs()
    parser.feed(html)
    return parser


def form_body(answers: dict) -> str:
    pairs = []
    for key, value in answers.items():
        if isinstance(value, list):
            pairs += [(key, v) for v in value]
        elif isinstance(value, bool):
            pairs.append((key, "true" if value else "false"))
        else:
            pairs.append((key, str(value)))
    return urlencode(pairs)


def post_form(client, answers: dict, **extra):
    return client.post("/reports", content=form_body(answers) + (
        "&" + urlencode(extra) if extra else ""),
        headers={"content-type": "application/x-www-form-urlencoded"}, follow_redirects=False)


def test_form_fields_are_named_by_question_id_with_the_spec_values(client, rule_set):
    page = parse(client.get("/").text)
    names = {(i.get("name"), i.get("value")) for i in page.inputs}
    for question in rule_set.questionnaire.questions():
        if question.type in ("single", "multi"):
            for value in question.values:
                assert (question.id, value) in names
        elif question.type == "boolean":
            assert (question.id, "true") in names and (question.id, "false") in names
        else:
            assert any(n == question.id for n, _ in names)
    # ids are unique, so labels and error links point at one element
    assert len(page.ids) == len(set(page.ids))


def test_the_form_without_javascript_posts_and_redirects_to_the_report(client):
    answers = yaml.safe_load(EXAMPLES[0].read_text())
    response = post_form(client, answers)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/r/")
    first = client.get(location)
    assert "Keep this delete token" in first.text
    token = first.text.split('id="delete-token">')[1].split("<")[0]
    assert len(token) > 20
    second = client.get(location)
    assert token not in second.text  # the server shows it once; the browser tab keeps it
    assert 'id="delete-token"></code>' in second.text
    report_id = location.removeprefix("/r/")
    assert client.delete(f"/api/v1/reports/{report_id}",
                         headers={"Authorization": f"Bearer {token}"}).status_code == 204


def test_refused_answers_come_back_inline_with_everything_kept(client):
    answers = yaml.safe_load(EXAMPLES[0].read_text())
    answers["priorities"] = ["iteration_speed", "debuggability", "low_latency", "small_footprint"]
    answers["models_in_production"] = "lots"
    response = post_form(client, answers)
    assert response.status_code == 422
    page = parse(response.text)
    assert "at most 3" in page.errors["priorities"]
    assert "not a number" in page.errors["models_in_production"]
    checked = {(i["name"], i["value"]) for i in page.inputs if "checked" in i}
    assert ("role", answers["role"]) in checked
    assert ("priorities", "small_footprint") in checked
    typed = {i["name"]: i.get("value") for i in page.inputs if i.get("type") == "text"}
    assert typed["project_name"] == answers["project_name"]


def test_user_text_is_escaped_everywhere(client):
    answers = yaml.safe_load(EXAMPLES[0].read_text())
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    answers["project_name"] = payload
    location = post_form(client, answers).headers["location"]
    report_id = location.removeprefix("/r/")
    html = client.get(location).text
    assert payload not in html and "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    markdown = client.get(f"/r/{report_id}.md").text
    # Markdown renderers pass raw HTML through, so every "<" of user text is escaped.
    assert not re.search(r"(?<!\\)<(script|img)", markdown)
    assert "\\<img src=x" in markdown
    assert json.loads(client.get(f"/r/{report_id}.json").text)["title"] == payload
    answers["project_name"] = payload + "x" * 200
    refused = post_form(client, answers).text
    assert "<script>alert" not in refused


def test_a_report_waits_for_its_probe_run_then_fills_in(client):
    from app.storage import probe_runs

    answers = yaml.safe_load(EXAMPLES[0].read_text())
    response = post_form(client, answers, measure_now="true")
    assert response.status_code == 303
    report_id = response.headers["location"].removeprefix("/r/")
    report = client.get(f"/api/v1/reports/{report_id}").json()
    assert report["pending_probe_run"] is True and report["recommendation"]["evidence"] is None
    page = client.get(f"/r/{report_id}").text
    assert 'id="pending-evidence"' in page and "queued" in page
    sessions = client.app.state.context.sessions
    run = probe_runs.claim(sessions, probe_runs.Claimant("server", (), "test"),
                           probe_runs.LeasePolicy(lease_s=60, max_attempts=3))
    assert run.id == report["probe_run_id"]
    assert probe_runs.finish(sessions, run.id, "server", run.lease_id, "succeeded",
                             json.loads(RECORDED.read_text()))
    done = client.get(f"/api/v1/reports/{report_id}").json()
    assert done["pending_probe_run"] is False
    assert done["recommendation"]["evidence"]["probe_run_id"] == run.id
    assert done["recommendation"]["scores"] == report["recommendation"]["scores"] or \
        any(r["evidence"] for r in done["recommendation"]["reasons"])
    page = client.get(f"/r/{report_id}").text
    assert 'id="pending-evidence"' not in page and "Popular claims, checked here" in page
    assert client.get(f"/api/v1/reports/{report_id}").json() == done  # final from now on


def test_rules_page_lists_every_rule_with_sources(client, rule_set):
    page = client.get("/rules").text
    for loaded in rule_set.rules:
        assert f'id="rule-{loaded.rule.id}"' in page


def test_probes_page_queues_a_run_and_shows_it(client):
    response = client.post("/probes", content="models=mlp&frameworks=tensorflow&mode=quick",
                           headers={"content-type": "application/x-www-form-urlencoded"},
                           follow_redirects=False)
    assert response.status_code == 303
    page = client.get(response.headers["location"]).text
    assert 'data-status="queued"' in page and "TensorFlow" in page
    refused = client.post("/probes", content="mode=quick",
                          headers={"content-type": "application/x-www-form-urlencoded"})
    assert refused.status_code == 422 and "at least one model" in refused.text


def test_a_tie_is_shown_as_a_tie_on_the_page_and_in_markdown(client):
    from tests.conftest import base_answers

    answers = base_answers()
    answers.update(priorities=["debuggability"], needs_mlops_pipeline=True, cloud="gcp")
    created = client.post("/api/v1/reports", json={"answers": answers}).json()
    assert created["recommendation"]["decided_by"] == "tie_break"
    html = client.get(created["url"]).text
    heading = re.search(r'<h1 id="verdict"[^>]*>(.*?)</h1>', html, re.S).group(1)
    assert re.sub(r"<[^>]+>", "", heading).strip() == "Tie — PyTorch by tie-break"
    assert "Tie — PyTorch by tie-break" in client.get(created["url"] + ".md").text


def test_constraints_groups_and_paths_are_on_the_page(client):
    from tests.conftest import base_answers

    answers = base_answers()
    answers.update(team_experience="pytorch", deployment_targets=["microcontroller"], mcu_npu="none")
    created = client.post("/api/v1/reports", json={"answers": answers}).json()
    rec = created["recommendation"]
    assert (rec["recommended"], rec["decided_by"]) == ("tensorflow", "constraint")
    html = client.get(created["url"]).text
    assert "decided by a constraint" in html
    assert "Blocking: PyTorch → Microcontrollers" in html
    assert "Target: microcontrollers" in html  # the group table
    assert "maturity-beta" in html  # PyTorch's Cortex-M path is labelled beta


def test_probes_page_routes_a_run_to_a_chosen_machine(client):
    """The form lists enrolled machines (with labels) and the workloads; the run goes to the
    machine chosen; a revoked or unknown machine and too many models are refused by name."""
    from app.storage import agents, probe_runs

    sessions = client.app.state.context.sessions
    agents.create(sessions, "jetson-7", ["edge_linux", "arm64"])
    agents.create(sessions, "old-box", [])
    agents.revoke(sessions, "old-box")
    form = {"content-type": "application/x-www-form-urlencoded"}
    page = client.get("/probes").text
    assert '<option value="jetson-7">jetson-7 — edge_linux, arm64</option>' in page
    assert 'value="old-box"' not in page and 'value="decoder"' in page
    sent = client.post("/probes", content="models=vision&frameworks=pytorch&mode=full"
                       "&machine=jetson-7", headers=form, follow_redirects=False)
    assert sent.status_code == 303
    run = probe_runs.get_run(sessions, sent.headers["location"].rsplit("/", 1)[1])
    assert run.machine == {"name": "jetson-7"} and run.models == ["vision"]
    here = client.post("/probes", content="models=mlp&frameworks=pytorch&mode=quick&machine=",
                       headers=form, follow_redirects=False)
    run = probe_runs.get_run(sessions, here.headers["location"].rsplit("/", 1)[1])
    assert run.machine == {"name": client.app.state.context.settings.server_agent_name}
    gone = client.post("/probes", content="models=mlp&frameworks=pytorch&machine=old-box",
                       headers=form)
    assert gone.status_code == 422 and "not an enrolled agent" in gone.text
    many = client.post("/probes", content="models=mlp&models=cnn&models=transformer"
                       "&models=vision&frameworks=pytorch", headers=form)
    assert many.status_code == 422 and "at most 3 models" in many.text
