"""What a running service holds: settings, the rule set, the database and the worker."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.decision.rule_set import RuleSet
from app.settings import Settings
from app.web.advice import AdviceCache
from app.web.api.bodies import separator_budget
from app.web.probe_worker import ProbeWorker
from app.web.render_cache import RenderCache
from app.web.security import RateLimiter


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

    @cached_property
    def separator_budget(self) -> int:
        """The most JSON separators a valid answers body can hold (app/web/api/bodies.py)."""
        return separator_budget(self.rule_set.questionnaire)
