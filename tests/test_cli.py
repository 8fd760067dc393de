"""The advisor command line: readable output, JSON, exit codes, --rules and ADVISOR_RULES_DIR."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import EXAMPLES, base_answers

ADVISOR = [sys.executable, "-m", "app.cli"]


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*ADVISOR, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "200", **(env or {})})


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_file_runs_as_text_and_json(example):
    text = run("recommend", str(example))
    assert text.returncode == 0, text.stderr
    assert "Recommended:" in text.stdout and "Reasons" in text.stdout
    data = json.loads(run("recommend", str(example), "--json").stdout)
    assert data["recommended"] in ("pytorch", "tensorflow")
    assert {"scores", "confidence", "reasons", "toolchain", "caveats", "flips", "evidence",
            "rules_version"} <= set(data)


def test_bad_answers_file_exits_2_with_a_message_and_no_traceback(tmp_path):
    bad = tmp_path / "answers.yaml"
    bad.write_text(yaml.safe_dump({**base_answers(), "role": "wizard", "team_size": 7}))
    result = run("recommend", str(bad))
    assert result.returncode == 2
    assert "role: 'wizard' is not allowed" in result.stderr
    assert "team_size" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("content", ["role: [unclosed", "- just\n- a list\n"])
def test_malformed_files_exit_2(tmp_path, content):
    bad = tmp_path / "answers.yaml"
    bad.write_text(content)
    result = run("recommend", str(bad))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert str(bad) in result.stderr or "mapping" in result.stderr


def test_missing_file_exits_2():
    result = run("recommend", "/nonexistent/answers.yaml")
    assert result.returncode == 2 and "cannot read" in result.stderr


def test_rules_check_exits_0_when_clean_and_1_listing_every_problem(rules_copy: Path):
    clean = run("rules", "check", "--rules", str(rules_copy))
    assert clean.returncode == 0 and "ok:" in clean.stdout
    team = rules_copy / "scoring" / "team.yaml"
    data = yaml.safe_load(team.read_text())
    data["rules"][0]["when"] = {"question": "role", "equals": "wizard"}
    data["rules"][1]["id"] = data["rules"][0]["id"]
    team.write_text(yaml.safe_dump(data))
    broken = run("rules", "check", "--rules", str(rules_copy))
    assert broken.returncode == 1
    assert "'wizard' is not an option of role" in broken.stderr
    assert "duplicate id" in broken.stderr
    assert "2 problem(s)" in broken.stderr


def test_rules_dir_setting_and_option_choose_the_rule_set(rules_copy: Path):
    dev = rules_copy / "scoring" / "development.yaml"
    data = yaml.safe_load(dev.read_text())
    data["rules"].append({**data["rules"][0], "id": "team-owned-rule",
                          "when": {"question": "role", "equals": "startup"}})
    dev.write_text(yaml.safe_dump(data))
    example = str(EXAMPLES[0])
    for extra_args, env in ((["--rules", str(rules_copy)], None),
                            ([], {"ADVISOR_RULES_DIR": str(rules_copy)})):
        result = run("recommend", example, "--json", *extra_args, env=env)
        reasons = {r["rule_id"] for r in json.loads(result.stdout)["reasons"]}
        if yaml.safe_load(Path(example).read_text())["role"] == "startup":
            assert "team-owned-rule" in reasons
        shipped = json.loads(run("recommend", example, "--json").stdout)["rules_version"]
        assert json.loads(result.stdout)["rules_version"] != shipped


def test_broken_rules_dir_is_a_user_error(tmp_path):
    result = run("recommend", str(EXAMPLES[0]), "--rules", str(tmp_path))
    assert result.returncode == 2 and "questionnaire.yaml: file: missing" in result.stderr


def test_questions_lists_every_question_id():
    result = run("questions")
    assert result.returncode == 0
    for qid in ("role", "priorities", "latency_budget_ms", "project_name"):
        assert qid in result.stdout


@pytest.mark.parametrize(("url", "message"), [
    ("bogus", "is not a SQLAlchemy URL"),
    ("postgresql+psycopg://nobody:secret@127.0.0.1:1/x", "cannot reach the database"),
])
def test_bad_database_settings_exit_2_without_leaking_the_password(url, message):
    for command in (["db", "upgrade"], ["serve", "--port", "1"]):
        result = run(*command, env={"ADVISOR_DATABASE_URL": url})
        assert result.returncode == 2 and message in result.stderr
        assert "secret" not in result.stderr and "Traceback" not in result.stderr


def test_every_benchmark_module_imports():
    """`advisor bench X` imports its module only when run; a broken import (as `bench agents`
    had, after a helper was renamed) would otherwise surface only when someone measures."""
    import importlib

    for name in ("scoring", "server", "pages", "stall", "agents", "lag_server"):
        module = importlib.import_module(f"app.bench.{name}")
        assert module.__name__ == f"app.bench.{name}"
