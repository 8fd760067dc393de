"""Shared fixtures: the shipped rule set, a valid answer set, a writable copy of the rules."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from app.decision.rule_set import SHIPPED_RULES_DIR, RuleSet, load_rule_set

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


# --- databases: every storage and API test runs on SQLite and on PostgreSQL ---------

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _postgres_reachable() -> str | None:
    """Return None if PostgreSQL answers, else the reason it does not."""
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - the reason is printed with the skip
        return f"PostgreSQL at 127.0.0.1:5432 is unreachable: {type(exc).__name__}: {exc}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> Any:
    """A fresh, empty database per test: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'advisor.db'}"
        return
    reason = _postgres_reachable()
    if reason:
        print(reason)
        pytest.skip(reason)
    import secrets

    from sqlalchemy import create_engine, text

    name = f"advisor_test_{secrets.token_hex(6)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def settings(database_url):
    from app.settings import Settings

    return Settings(database_url=database_url, rate_limit_enabled=False)


@pytest.fixture
def client(settings):
    from fastapi.testclient import TestClient

    from app.web.main import create_app

    app = create_app(settings, run_probe_worker=False)
    with TestClient(app) as test_client:
        yield test_client
