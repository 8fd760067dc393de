"""Settings: environment variables prefixed ADVISOR_ (or a .env file). Every limit is here,
named and documented; tests check that the README documents each one."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.decision.rule_set import SHIPPED_RULES_DIR


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ADVISOR_", env_file=".env", extra="ignore")

    database_url: str = Field(
        "sqlite:///advisor.db",
        description="SQLAlchemy URL of the database (SQLite file by default; PostgreSQL tested).",
    )
    rules_dir: Path = Field(SHIPPED_RULES_DIR, description="Directory of the rule set to use.")
    rate_limit_enabled: bool = Field(True, description="Rate-limit report and probe-run creation.")
    rate_limit_reports_per_minute: int = Field(
        30, ge=1, description="Reports one client may create per minute."
    )
    rate_limit_probe_runs_per_hour: int = Field(
        10, ge=1, description="Probe runs one client may start per hour."
    )
    max_body_bytes: int = Field(2 * 1024 * 1024, ge=1024, description="Largest request body (413).")
    probe_timeout_s: float = Field(
        900.0, gt=0, description="Time limit for one framework's probe subprocess."
    )
    probe_queue_limit: int = Field(20, ge=1, description="Most probe runs queued at once.")
    render_cache_entries: int = Field(
        512, ge=0, description="Rendered reports (JSON, HTML, Markdown) kept in memory; 0 = none."
    )
    advice_cache_entries: int = Field(
        1024, ge=0, description="Recommendations and probe documents memoised in memory; 0 = none."
    )
    read_cache_ttl_s: float = Field(
        1.0, ge=0, description="Seconds a process trusts that a report exists, or which probe run "
        "is the latest, before asking the database again. A report deleted through another "
        "server process stays readable on this one for at most this long; 0 = always ask."
    )
    trust_forwarded_for: bool = Field(
        False, description="Use X-Forwarded-For for the client address (only behind a proxy)."
    )
