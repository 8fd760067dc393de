"""Every setting is named, documented in the README, and read from ADVISOR_ variables."""

from __future__ import annotations

from pathlib import Path

from app.settings import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_setting_is_documented_in_the_readme():
    for name, field in Settings.model_fields.items():
        assert f"`ADVISOR_{name.upper()}`" in README, name
        assert field.description, name


def test_settings_come_from_advisor_environment_variables(monkeypatch):
    monkeypatch.setenv("ADVISOR_DATABASE_URL", "sqlite:////tmp/elsewhere.db")
    monkeypatch.setenv("ADVISOR_RATE_LIMIT_ENABLED", "false")
    monkeypatch.setenv("ADVISOR_MAX_BODY_BYTES", "4096")
    settings = Settings()
    assert settings.database_url == "sqlite:////tmp/elsewhere.db"
    assert settings.rate_limit_enabled is False
    assert settings.max_body_bytes == 4096
