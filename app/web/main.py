"""create_app(settings): the FastAPI application (API, pages, static files)."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Mount

from app.decision.errors import AnswersError
from app.decision.probe_document import ProbeRunDocument
from app.decision.questionnaire import MAX_PROBLEMS, shown
from app.decision.rule_set import load_rule_set
from app.decision.scoring import prepare
from app.settings import Settings
from app.storage import agents
from app.storage.database import make_engine, migrate, session_factory
from app.web import machine_pages, pages
from app.web.advice import AdviceCache, ProbeRunNotUsable, problems_to_detail
from app.web.api import (
    agent_jobs,
    health,
    machines,
    probe_runs,
    questionnaire,
    recheck,
    recommendations,
    reports,
)
from app.web.api.deps import lease_policy
from app.web.api.schemas import RecommendationRequest, ReportCreate
from app.web.context import ServiceContext
from app.web.openapi_answers import answers_schema
from app.web.probe_worker import ProbeWorker
from app.web.recommendation_lane import RecommendationLane
from app.web.render_cache import RenderCache
from app.web.security import RateLimiter, SecurityMiddleware
from probes.stale import clean_stale_dirs

STATIC = Path(__file__).resolve().parents[2] / "static"
STORABLE_MOMENT = r"^(200[1-9]|20[1-9][0-9]|21[0-8][0-9]|219[0-8])-.*(Z|z|[+-][0-9]{2}:?[0-9]{2})$"


def create_app(settings: Settings | None = None, *, run_probe_worker: bool = True) -> FastAPI:
    """Return the application: rules loaded and checked, database migrated."""
    settings = settings or Settings()
    rule_set = load_rule_set(settings.rules_dir)  # a broken rule set stops start-up here
    engine = make_engine(settings.database_url)
    migrate(engine)
    sessions = session_factory(engine)
    # The server's own agent exists even where this process runs no worker: runs routed to
    # it (and the latest of them, the default evidence) are told apart from other machines'.
    agents.ensure_builtin(sessions, settings.server_agent_name, list(settings.server_agent_labels))
    clean_stale_dirs()  # probe directories a killed server left behind (owner process dead)
    limiter = RateLimiter(settings.rate_limit_enabled, {
        "reports": (settings.rate_limit_reports_per_minute, 60.0),
        "probe_runs": (settings.rate_limit_probe_runs_per_hour, 3600.0),
    }, settings.redis_url, settings.redis_key_prefix)
    if not run_probe_worker:
        worker = None
    else:
        worker = ProbeWorker(sessions, settings.probe_timeout_s, name=settings.server_agent_name,
                             labels=tuple(settings.server_agent_labels),
                             policy=lease_policy(settings))
    context = ServiceContext(settings, rule_set, engine, sessions, limiter, worker,
                             RenderCache(settings.render_cache_entries, settings.read_cache_ttl_s,
                                         settings.render_cache_bytes),
                             AdviceCache(settings.advice_cache_entries, settings.read_cache_ttl_s,
                                         settings.advice_cache_bytes))
    # Warm before the first request: the shared scoring tables, and which probe run is the
    # latest (until that is known, every request would ask the database from a worker
    # thread, and a burst of them queued there for tens of milliseconds each).
    prepare(rule_set)
    context.advice.latest_id(sessions)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if worker is not None:
            worker.start()
        # Everything loaded at start-up (rules, templates, modules) lives as long as the
        # process: frozen, a full garbage collection no longer walks it. Such a collection
        # holds the interpreter lock throughout, so it stalled the event loop for hundreds
        # of milliseconds after requests that allocate much (`advisor bench stall`).
        gc.collect()
        gc.freeze()
        yield
        if worker is not None:
            worker.stop()
        engine.dispose()

    app = FastAPI(title="Framework Advisor", version="1.0.0", lifespan=lifespan,
                  docs_url=None, redoc_url=None,  # /docs is served from static/ (pages.py)
                  description="PyTorch or TensorFlow for your team's workflow: sourced rules "
                              "and numbers measured on your machine.")
    app.state.context = context

    @app.exception_handler(AnswersError)
    async def bad_answers(_: Request, exc: AnswersError) -> JSONResponse:
        return JSONResponse({"detail": problems_to_detail(exc)}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        # Never the input back, at most MAX_PROBLEMS problems: a 2 MiB body of mistakes
        # gets an answer of a few kilobytes.
        found = list(exc.errors())
        detail = [{"loc": [part if isinstance(part, int) else shown(part) if not _plain(part)
                           else part for part in error.get("loc", ())],
                   "msg": str(error.get("msg", ""))[:300], "type": str(error.get("type", ""))}
                  for error in found[:MAX_PROBLEMS]]
        if len(found) > MAX_PROBLEMS:
            detail.append({"loc": ["body"], "type": "too_many_errors",
                           "msg": f"and {len(found) - MAX_PROBLEMS} more problem(s) not listed"})
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404 and pages.wants_html(request):
            return pages.not_found()  # a browser gets a page, scripts keep their JSON
        if exc.status_code != 405:
            return await http_exception_handler(request, exc)
        # Two routes can share a path (GET and DELETE /api/v1/reports/{id}); the
        # Allow header must list the methods of all of them.
        return JSONResponse({"detail": "method not allowed"}, status_code=405,
                            headers={"Allow": ", ".join(allowed_methods(routes, request.url.path))})

    @app.exception_handler(ProbeRunNotUsable)
    async def unusable_probe_run(_: Request, exc: ProbeRunNotUsable) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    # Inside the security middleware; its errors come from the handlers registered above.
    app.add_middleware(RecommendationLane, context=context, handlers=app.exception_handlers)
    app.add_middleware(SecurityMiddleware, max_body_bytes=settings.max_body_bytes,
                       allowed_hosts=settings.allowed_hosts)
    # Routes are matched in order, and matching each costs: the hot paths come first
    # (POST /api/v1/recommendations, for what the lane passes on; report pages and report
    # JSON); the trivial ping, the load benchmark's baseline, last.
    modules = (recommendations, pages, machine_pages, reports, recheck, questionnaire,
               probe_runs, machines, agent_jobs, health)
    for module in modules:
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    routes = [*app.routes, *(route for module in modules for route in module.router.routes)]

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version,
                                 description=app.description, routes=app.routes)
            components = schema["components"]["schemas"]
            components["Answers"] = answers_schema(rule_set.questionnaire)
            # The routes with bodies read them themselves, off the event loop
            # (app/web/api/bodies.py); their schemas are declared here.
            for model in (RecommendationRequest, ReportCreate, ProbeRunDocument):
                found = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(found.pop("$defs", {}))
                components[model.__name__] = found
            # Stored moments lie in [2000, 2200) UTC (app/storage/tables.py) and need an
            # offset; years 2001-2198 are in range whatever the offset.
            for field in ("started_at", "finished_at"):
                components["ProbeRunDocument"]["properties"][field]["pattern"] = STORABLE_MOMENT
            for name in ("RecommendationRequest", "ReportCreate"):
                components[name]["properties"]["answers"] = {"$ref": "#/components/schemas/Answers"}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def allowed_methods(routes: list[Any], path: str) -> list[str]:
    """Return the methods of the resource at this path: those of the most specific routes
    that match it (a literal /api/v1/probe-runs/import, not the /{run_id} template beside
    it), with HEAD wherever GET is answered (the security middleware answers HEAD as GET)."""
    by_specificity: dict[int, set[str]] = {}
    for route in routes:
        if isinstance(route, Mount):
            if path.startswith(route.path + "/"):
                by_specificity.setdefault(99, set()).add("GET")
        elif getattr(route, "path_regex", None) is not None and route.path_regex.match(path):
            params = len(getattr(route, "param_convertors", {}) or {})
            by_specificity.setdefault(params, set()).update(getattr(route, "methods", None) or ())
    methods = by_specificity[min(by_specificity)] if by_specificity else set()
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def _plain(part: object) -> bool:
    return isinstance(part, str) and len(part) <= 64 and part.isascii() and part.isprintable()
