"""What a running service holds: settings, the rule set, the database and the worker."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.advice import AdviceCache
from app.probe_worker import ProbeWorker
from app.render_cache import RenderCache
from app.rule_set import RuleSet
from app.security import RateLimiter
from app.settings import Settings


@dataclass
class ServiceContext:
    settings: Settings
    rule_set: RuleSet
    engine: Engine
    sessions: sessionmaker[Session]
    limiter: RateLimiter
    worker: ProbeWorker | None
    renders: RenderCache
    advice: AdviceCache
