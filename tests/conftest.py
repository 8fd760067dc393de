"""Shared fixtures: the shipped rule set, a valid answer set, a writable copy of the rules."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from app.rule_set import SHIPPED_RULES_DIR, RuleSet, load_rule_set

EXAMPLES = sorted((SHIPPED_RULES_DIR / "examples").glob("*.yaml"))


@pytest.fixture(scope="session")
def rule_set() -> RuleSet:
    return load_rule_set()


def base_answers() -> dict[str, Any]:
    """A complete, valid answer set that is as neutral as the questionnaire allows."""
    return {
        "role": "startup",
        "team_experience": "neither",
        "team_size": "small",
        "priorities": ["iteration_speed"],
        "training_hardware": ["cpu"],
        "deployment_targets": ["batch"],
        "cloud": "on_prem",
        "model_family": "tabular",
        "uses_hub_models": False,
        "needs_mlops_pipeline": False,
        "models_in_production": 1,
    }


@pytest.fixture
def answers() -> dict[str, Any]:
    return base_answers()


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped rules directory, for tests that break it."""
    target = tmp_path / "rules"
    shutil.copytree(SHIPPED_RULES_DIR, target)
    return target
