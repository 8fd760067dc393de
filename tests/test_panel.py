"""The expert panel (tests/panel/profiles.yaml): every profile gets the verdict an experienced
ML platform engineer gives, within the confidence band accepted, with the pointers and caveats
the engineer would expect."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from app.decision.questionnaire import validate_answers
from app.decision.rule_set import RuleSet
from app.decision.scoring import score_answers

PANEL = yaml.safe_load((Path(__file__).parent / "panel" / "profiles.yaml").read_text())
PROFILES = PANEL["profiles"]


def _score(rule_set: RuleSet, profile: dict[str, Any]):
    return score_answers(rule_set, validate_answers(rule_set.questionnaire, profile["answers"]))


def test_the_panel_covers_what_the_issue_asks_for():
    answers = [p["answers"] for p in PROFILES]
    assert len(PROFILES) >= 30
    targets = {t for a in answers for t in a["deployment_targets"]}
    hardware = {h for a in answers for h in a["training_hardware"]}
    assert targets == {"research_only", "cloud_server", "serverless", "batch", "mobile_android",
                       "mobile_ios", "web_browser", "edge_linux", "microcontroller"}
    assert hardware == {"cpu", "nvidia_gpu", "amd_gpu", "google_tpu", "apple_silicon", "none"}
    assert {a["team_experience"] for a in answers} == {"pytorch", "tensorflow", "both", "neither"}
    families = {a["model_family"] for a in answers}
    assert {"llm", "diffusion", "audio_speech", "tabular", "recommender"} <= families
    assert any(a.get("current_stack") for a in answers)
    assert any(a["cloud"] == "on_prem" for a in answers)
    assert any(a.get("peak_requests_per_second", 0) >= 10000 for a in answers)
    assert {p["expect"] for p in PROFILES} == {"pytorch", "tensorflow", "close"}
    for profile in PROFILES:
        assert len(profile["why"]) > 30, profile["id"]


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p["id"])
def test_profile_gets_the_experts_verdict_and_confidence(rule_set, profile):
    rec = _score(rule_set, profile)
    low, high = profile["band"]
    if profile["expect"] != "close":
        assert rec.recommended == profile["expect"], rec.summary
    assert low <= rec.confidence <= high, (rec.confidence, rec.scores, [g.group for g in rec.groups])


@pytest.mark.parametrize("profile", [p for p in PROFILES if p.get("also_consider")],
                         ids=lambda p: p["id"])
def test_profile_names_the_options_beyond_the_two_frameworks(rule_set, profile):
    options = {a.option for a in _score(rule_set, profile).also_consider}
    assert set(profile["also_consider"]) <= options


@pytest.mark.parametrize("profile", [p for p in PROFILES if p.get("caveats")], ids=lambda p: p["id"])
def test_profile_flags_the_tools_it_runs_today(rule_set, profile):
    caveats = {c.tool: c for c in _score(rule_set, profile).caveats}
    for tool in profile["caveats"]:
        assert caveats[tool].in_use and caveats[tool].migration


def test_close_cases_are_never_dressed_up_as_clear(rule_set):
    for profile in PROFILES:
        rec = _score(rule_set, profile)
        if profile["expect"] == "close":
            assert rec.confidence <= 0.65, profile["id"]
        if rec.decided_by == "tie_break":
            assert rec.confidence == 0.5 and "tie" in rec.summary.lower()
