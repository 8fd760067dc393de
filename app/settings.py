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
    max_import_bytes: int = Field(
        512 * 1024, ge=1024, description="Largest probe document POST /api/v1/probe-runs/import "
        "takes (413); a full run's document is about 70 kB. Validating a document is C code "
        "that holds the interpreter lock, about 35 ms per MB here: this bounds that stall."
    )
    probe_timeout_s: float = Field(
        900.0, gt=0, description="Time limit for one framework's probe subprocess."
    )
    probe_queue_limit: int = Field(20, ge=1, description="Most probe runs queued at once.")
    server_agent_name: str = Field(
        "server", pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$",
        description="Name of the server's own probe agent (the worker inside each server "
        "process); runs posted without `machine` go to it.")
    server_agent_labels: list[str] = Field(
        default_factory=list, description="Labels of the server's own agent, as a JSON list "
        "(e.g. [\"cloud_server\"]): a deployment-target id says which target it stands for.")
    agent_lease_s: float = Field(
        60.0, gt=0, description="Seconds a probe job stays leased to an agent without a "
        "heartbeat; when it expires the job is queued again (agents beat every 5 s).")
    probe_max_attempts: int = Field(
        3, ge=1, description="Times a job is leased before an expired lease marks it "
        "`interrupted` instead of queuing it again.")
    agent_long_poll_s: float = Field(
        25.0, ge=0, le=120, description="Longest time a job claim from an agent waits for work "
        "before the server answers 204 (long poll).")
    render_cache_entries: int = Field(
        512, ge=0, description="Rendered reports (JSON, HTML, Markdown) kept in memory; 0 = none."
    )
    render_cache_bytes: int = Field(
        64 * 1024 * 1024, ge=0, description="Most bytes the rendered-report cache holds (a report "
        "page with evidence is about 2 MB); the oldest renderings go first."
    )
    advice_cache_entries: int = Field(
        1024, ge=0, description="Recommendations and probe documents memoised in memory; 0 = none."
    )
    advice_cache_bytes: int = Field(
        32 * 1024 * 1024, ge=0, description="Most bytes the recommendation and probe-document "
        "memo holds; keyed by the validated answers, so padding a body never takes a new slot."
    )
    read_cache_ttl_s: float = Field(
        1.0, ge=0, description="Seconds a process trusts that a report exists, or which probe run "
        "is the latest, before asking the database again. A report deleted through another "
        "server process stays readable on this one for at most this long; 0 = always ask."
    )
    trust_forwarded_for: bool = Field(
        False, description="Behind one reverse proxy: take the client address from the last "
        "X-Forwarded-For hop (the one that proxy added) and the scheme from X-Forwarded-Proto. "
        "Off by default: any client can write these headers."
    )
    allowed_hosts: list[str] = Field(
        ["localhost", "127.0.0.1", "[::1]", "testserver"],
        description="Host header values the server answers (others get 400); a JSON list, "
        "`*.example.org` matches subdomains, `*` any host. The default serves localhost only.",
    )
    max_header_bytes: int = Field(
        64 * 1024, ge=4096, description="Largest request head (request line and headers) that "
        "`advisor serve` reads; a larger one is refused before the application sees it."
    )
    redis_url: str | None = Field(
        None, description="Redis URL (redis://host:6379/0) for rate-limit counters shared by "
        "every server process; unset = counters in each process's memory."
    )
    redis_key_prefix: str = Field(
        "advisor", min_length=1, max_length=64,
        description="Prefix of the rate-limit keys in Redis (several services can share one).",
    )
