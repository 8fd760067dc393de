"""The rule set loads, is sourced and dated, and broken rule files are refused precisely."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from app.decision.errors import RulesError
from app.decision.rule_set import load_rule_set


def test_shipped_rules_are_complete_and_sourced(rule_set):
    assert len(rule_set.rules) >= 40
    for loaded in rule_set.rules:
        rule = loaded.rule
        assert rule.sources and rule.as_of.year >= 2025, rule.id
    assert rule_set.version.startswith("sha256:")
    frameworks = {f for r in rule_set.rules for f in r.rule.points}
    assert frameworks == {"pytorch", "tensorflow"}


def test_policy_documents_every_point_on_the_scale(rule_set):
    assert set(rule_set.policy.points_scale) == {1, 2, 3, 4, 5}
    used = {p for r in rule_set.rules for p in r.rule.points.values()}
    assert used <= set(rule_set.policy.points_scale)


def edit_rule(rules_dir: Path, file: str, index: int, **changes) -> None:
    path = rules_dir / file
    data = yaml.safe_load(path.read_text())
    key = next(iter(data))
    data[key][index].update(changes)
    for field, value in changes.items():
        if value is None:
            del data[key][index][field]
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def load_problems(rules_dir: Path) -> list[str]:
    with pytest.raises(RulesError) as caught:
        load_rule_set(rules_dir)
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"sources": None}, "field sources: Field required"),
        ({"sources": []}, "field sources: Tuple should have at least 1 item"),
        ({"as_of": "last week"}, "field as_of"),
        ({"why": None}, "field why: Field required"),
        ({"points": {"pytorch": 9}}, "points must be 1 to 5"),
        ({"points": {"jax": 1}}, "field points.jax"),
        ({"id": "Not Kebab"}, "field id: String should match pattern"),
        ({"when": {"question": "favourite_colour", "equals": "blue"}},
         "field when.question: unknown question 'favourite_colour'"),
        ({"when": {"question": "role", "equals": "wizard"}},
         "field when.equals: 'wizard' is not an option of role"),
        ({"when": {"question": "priorities", "contains": "speed"}},
         "'speed' is not an option of priorities"),
        ({"when": {"question": "role", "resembles": "student"}}, "unknown operator 'resembles'"),
        ({"when": {"question": "role", "contains": "student"}}, "contains works on multi questions"),
        ({"when": {"question": "models_in_production", "gte": "many"}}, "compare with a number"),
        ({"when": {"all": []}}, "field when.all: must be a non-empty list"),
        ({"when": {"measured": {"value": {"framework": "pytorch", "variant": "turbo",
                                          "metric": "latency_ms_b1"}}, "lt": 1}},
         "variant 'turbo' is not a pytorch variant"),
    ],
)
def test_broken_rule_is_refused_naming_file_rule_and_field(rules_copy, changes, expected):
    edit_rule(rules_copy, "scoring/development.yaml", 0, **changes)
    found = load_problems(rules_copy)
    assert any(
        p.startswith("scoring/development.yaml:") and expected in p for p in found
    ), found
    rule_id = changes.get("id") or "debuggability-define-by-run"
    assert any(rule_id in p for p in found), found


def test_duplicate_ids_are_refused_across_files(rules_copy):
    edit_rule(rules_copy, "scoring/team.yaml", 0, id="debuggability-define-by-run")
    found = load_problems(rules_copy)
    assert any("scoring/team.yaml: rule debuggability-define-by-run field id: duplicate id, also "
               "in scoring/development.yaml" in p for p in found), found


def test_invalid_yaml_names_the_file(rules_copy):
    (rules_copy / "scoring" / "team.yaml").write_text("rules: [\n  - id: x\n")
    found = load_problems(rules_copy)
    assert any(p.startswith("scoring/team.yaml: YAML") for p in found), found


def test_every_problem_is_listed_not_just_the_first(rules_copy):
    edit_rule(rules_copy, "scoring/team.yaml", 0, sources=None)
    edit_rule(rules_copy, "toolchains.yaml", 0, stage="deploy-to-moon")
    edit_rule(rules_copy, "tools.yaml", 0, status="dead")
    edit_rule(rules_copy, "claims.yaml", 0, measured={"speedup": {"framework": "pytorch"}})
    found = load_problems(rules_copy)
    assert len(found) >= 4
    assert any(p.startswith("toolchains.yaml") and "unknown stage 'deploy-to-moon'" in p
               for p in found)
    assert any(p.startswith("tools.yaml") and "status" in p for p in found)
    assert any(p.startswith("claims.yaml") and "measured" in p for p in found)


def test_rules_version_changes_with_content(rules_copy, rule_set):
    assert load_rule_set(rules_copy).version == rule_set.version
    edit_rule(rules_copy, "scoring/team.yaml", 0, points={"pytorch": 2})
    assert load_rule_set(rules_copy).version != rule_set.version


def test_yaml_tags_are_not_executed(rules_copy):
    (rules_copy / "tools.yaml").write_text("tools: !!python/object/apply:os.system ['true']\n")
    assert any(p.startswith("tools.yaml: YAML") for p in load_problems(rules_copy))
