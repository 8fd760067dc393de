"""Probe runs: start one (queued, run one at a time), read its status, import a document."""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from app.decision.probe_document import ProbeRunDocument
from app.storage import agents, probe_runs
from app.storage.tables import OutOfRange, ProbeRunRow
from app.web import machines
from app.web.api.bodies import body_schema, validation_errors
from app.web.api.deps import ContextDep, rate_limited
from app.web.api.schemas import MachineLabels, ProbeRunCreate, ProbeRunPublic, errors
from app.web.context import ServiceContext

log = logging.getLogger("advisor.http")

router = APIRouter(prefix="/api/v1/probe-runs", tags=["probe runs"])


def run_public(context: ContextDep, row: ProbeRunRow, with_results: bool = True
               ) -> ProbeRunPublic:
    ahead = probe_runs.queued_ahead(context.sessions, row) if row.status == "queued" else None
    return ProbeRunPublic(
        id=row.id, status=row.status, source=row.source, mode=row.mode, models=row.models,
        frameworks=row.frameworks, created_at=row.created_at, started_at=row.started_at,
        finished_at=row.finished_at, progress=row.progress, queued_ahead=ahead, error=row.error,
        machine=row.machine, agent=row.agent_name, attempts=row.attempts or 0,
        results=row.document if with_results else None,
    )


def routing(context: ContextDep, machine: str | MachineLabels | None) -> dict[str, Any]:
    """Return the job's routing, or 404 when no enrolled, unrevoked agent could run it (like
    an unknown probe_run_id elsewhere: the body is well-formed, the machine does not exist)."""
    live = [a for a in agents.all_agents(context.sessions) if a.revoked_at is None]
    if machine is None:
        return {"name": context.settings.server_agent_name}
    if isinstance(machine, str):
        if not any(a.name == machine for a in live):
            known = ", ".join(a.name for a in live) or "none"
            raise HTTPException(404, f"machine: no agent named {machine!r} (agents: {known})")
        return {"name": machine}
    labels = list(dict.fromkeys(machine.labels))
    if not any(probe_runs.routed_to({"labels": labels}, a.name, a.labels) for a in live):
        raise HTTPException(404, f"machine: no agent carries all of the labels {labels}")
    return {"labels": labels}


@router.post("", status_code=202, responses=errors(400, 404, 413, 422, 429),
             dependencies=[rate_limited("probe_runs")], summary="Queue a probe run")
def start(body: ProbeRunCreate, context: ContextDep, response: Response) -> ProbeRunPublic:
    machine = routing(context, body.machine)
    row = probe_runs.enqueue_if_room(
        context.sessions, context.settings.probe_queue_limit,
        models=list(dict.fromkeys(body.models)), frameworks=list(dict.fromkeys(body.frameworks)),
        mode=body.mode, machine=machine)
    if row is None:
        raise HTTPException(429, "the probe queue is full; try again when a run has finished",
                            headers={"Retry-After": "60"})
    response.headers["Location"] = f"/api/v1/probe-runs/{row.id}"
    return run_public(context, row)


@router.get("", summary="Recent probe runs, newest first (without results)")
def recent(context: ContextDep) -> list[ProbeRunPublic]:
    return [public for _, public in readable_runs(context)]


def readable_runs(context: ServiceContext) -> list[tuple[ProbeRunRow, ProbeRunPublic]]:
    """Return the recent runs that can be shown: one unreadable row is logged and left
    out, so it never takes the whole list (API and /probes page) down with it."""
    out = []
    for row in probe_runs.recent_runs(context.sessions):
        try:
            out.append((row, run_public(context, row, with_results=False)))
        except (ValidationError, ValueError, TypeError):
            log.exception("probe run %s cannot be shown; left out of the list", row.id)
    return out


@router.get("/compare", responses=errors(404, 409, 422),
            summary="Two runs metric by metric: ratio (b over a), 95% interval, verdict")
def compare(context: ContextDep,
            a: Annotated[str, Query(max_length=64, description="Baseline run id")],
            b: Annotated[str, Query(max_length=64, description="Candidate run id")]
            ) -> dict[str, Any]:
    return machines.compare_two_runs(context, a, b)


@router.get("/{run_id}", responses=errors(404), summary="Status, progress and results")
def read(run_id: str, context: ContextDep) -> ProbeRunPublic:
    row = probe_runs.get_run(context.sessions, run_id)
    if row is None:
        raise HTTPException(404, "probe run not found")
    return run_public(context, row)


MAX_PROBLEMS = 20


def parse_import(body: bytes) -> ProbeRunDocument:
    """Return the validated document, or raise a 422 naming each bad field (at most
    MAX_PROBLEMS, never echoing the input: NaN cannot even be written back as JSON)."""
    try:
        # json.loads accepts NaN and Infinity as careless exporters write them, so that the
        # model can refuse them by field name instead of failing on the whole body.
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise RequestValidationError([{"loc": ("body",), "msg": f"invalid JSON: {exc}"[:200],
                                       "type": "json_invalid"}]) from None
    try:
        return ProbeRunDocument.model_validate(data)
    except ValidationError as exc:
        detail = validation_errors(exc)
        if len(detail) > MAX_PROBLEMS:
            more = len(detail) - MAX_PROBLEMS
            detail = detail[:MAX_PROBLEMS] + [{"loc": ("body",), "msg": f"{more} more problems "
                                               "not listed", "type": "too_many_problems"}]
        raise RequestValidationError(detail) from None


@router.post("/import", status_code=201, responses=errors(400, 413, 422, 429),
             response_model=ProbeRunPublic, openapi_extra=body_schema("ProbeRunDocument"),
             dependencies=[rate_limited("probe_runs")],
             summary="Import a document written by `advisor probe --output`")
async def import_document(request: Request, context: ContextDep) -> Response:
    # Parsing and validating run in a worker thread; the size is bounded more tightly than
    # other bodies because pydantic validates a document without releasing the GIL.
    body = await request.body()
    limit = context.settings.max_import_bytes
    if len(body) > limit:
        raise HTTPException(413, f"probe document is larger than {limit} bytes "
                                 "(ADVISOR_MAX_IMPORT_BYTES)")
    public = await run_in_threadpool(_import, context, body)
    return Response(public, status_code=201, media_type="application/json")


def _import(context: ServiceContext, body: bytes) -> bytes:
    # Validated against framework-advisor/probe-run@1 (issue 10b/12): finite, positive timings
    # and rates, bounded strings, UTC timestamps in order; NaN refused by field name.
    document = parse_import(body)
    try:
        row = probe_runs.store_imported(context.sessions, document.to_json())
    except OutOfRange as exc:
        field = str(exc).split(":", 1)[0]
        raise RequestValidationError([{"loc": ("body", field), "msg": str(exc),
                                       "type": "value_error"}]) from None
    return run_public(context, row).model_dump_json().encode()
