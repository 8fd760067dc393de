"""Re-checking a report: today's rules and runs for the same answers, with a diff; the
stored report never changes."""

from __future__ import annotations

from html.parser import HTMLParser

import yaml
from fastapi.testclient import TestClient

from app.settings import Settings
from app.web.main import create_app
from tests.conftest import base_answers


def make_client(database_url: str, rules_dir) -> TestClient:
    app = create_app(Settings(database_url=database_url, rules_dir=rules_dir,
                              rate_limit_enabled=False), run_probe_worker=False)
    return TestClient(app)


class Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.ids |= {v for k, v in attrs if k == "id" and v}


def test_recheck_of_an_unchanged_rule_set_says_nothing_changed(database_url, rules_copy):
    with make_client(database_url, rules_copy) as client:
        report = client.post("/api/v1/reports", json={"answers": base_answers()}).json()
        result = client.get(f"/api/v1/reports/{report['id']}/recheck").json()
        assert result["diff"]["unchanged"] is True
        assert result["diff"]["verdict"]["changed"] is False
        page = client.get(f"/r/{report['id']}/recheck")
        assert page.status_code == 200 and "Nothing changed" in page.text
        assert page.headers["cache-control"] == "no-store"
        assert client.get("/r/AAAAAAAAAAAAAAAAAAAAAAAA/recheck").status_code == 404
        assert client.get("/api/v1/reports/AAAAAAAAAAAAAAAAAAAAAAAA/recheck").status_code == 404
        report_page = Ids()
        report_page.feed(client.get(f"/r/{report['id']}").text)
        assert "recheck" in report_page.ids  # the button on the report


def test_recheck_after_a_rule_file_changes_shows_the_difference(database_url, rules_copy):
    answers = {**base_answers(), "team_experience": "pytorch"}
    with make_client(database_url, rules_copy) as client:
        report = client.post("/api/v1/reports", json={"answers": answers}).json()
        before = client.get(f"/api/v1/reports/{report['id']}").json()
    reasons = {r["rule_id"] for r in before["recommendation"]["reasons"]}
    assert "team-knows-pytorch" in reasons
    # Today's rules: that rule is gone and another cited rule was re-checked later.
    path = rules_copy / "scoring" / "team.yaml"
    data = yaml.safe_load(path.read_text())
    data["rules"] = [r for r in data["rules"] if r["id"] != "team-knows-pytorch"]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    other = sorted(reasons - {"team-knows-pytorch"})[0]
    was = {r["rule_id"]: r["as_of"] for r in before["recommendation"]["reasons"]}
    new_date = "2026-11-01" if was[other] != "2026-11-01" else "2026-11-02"
    for file in (rules_copy / "scoring").glob("*.yaml"):
        content = yaml.safe_load(file.read_text())
        for rule in content["rules"]:
            if rule["id"] == other:
                rule["as_of"] = new_date
                file.write_text(yaml.safe_dump(content, sort_keys=False))
    with make_client(database_url, rules_copy) as client:
        result = client.get(f"/api/v1/reports/{report['id']}/recheck").json()
        diff = result["diff"]
        assert not diff["unchanged"]
        assert diff["rules_version"]["before"] != diff["rules_version"]["after"]
        assert {r["rule_id"] for r in diff["reasons_lost"]} == {"team-knows-pytorch"}
        changed = {f["rule_id"]: (f["as_of_before"], f["as_of_now"])
                   for f in diff["facts_as_of_changed"]}
        assert changed == {"team-knows-pytorch": (was["team-knows-pytorch"], None),
                           other: (was[other], new_date)}
        scores = diff["scores"]
        assert scores["after"]["pytorch"] < scores["before"]["pytorch"]
        page = client.get(f"/r/{report['id']}/recheck").text
        assert "team-knows-pytorch" in page and new_date in page
        # The report itself is untouched.
        assert client.get(f"/api/v1/reports/{report['id']}").json() == before
