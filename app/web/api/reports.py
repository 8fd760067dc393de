"""Reports: create (201 with a delete token), read as JSON, delete with the token."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from app.storage import probe_runs
from app.storage.reports import DeleteRefused, create_report, delete_report, get_report
from app.web.advice import Advice, advise, advise_from_rules, answer_labels
from app.web.api.bodies import body_schema, parse_json_body
from app.web.api.deps import ContextDep, rate_limited
from app.web.api.schemas import ReportCreate, ReportCreated, ReportPublic, errors
from app.web.report_view import cached_report_json, report_json_bytes
from app.web.several_runs import advise_with_runs, cited_run_ids

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])
NOT_FOUND = "report not found"
REPORT_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def store_report(context: ContextDep, body: ReportCreate) -> tuple[str, str, object]:
    """Score and store a report; shared by the API and the HTML form. A report citing a
    probe run that is still queued or running is stored pending, from the rules alone."""
    several = cited_run_ids(body.probe_run_id, body.probe_run_ids)
    if len(several) > 1 or body.probe_run_ids:  # several machines: every run must be finished
        advice, by_machine = advise_with_runs(context.rule_set, context.sessions, body.answers,
                                              several, context.advice)
        return _store(context, body, advice, probe_run_id=advice.probe_run_id,
                      probe_run_ids=several, machine_evidence=by_machine)
    pending = False
    if body.probe_run_id is not None:
        run = probe_runs.get_run(context.sessions, body.probe_run_id)
        pending = run is not None and run.status in probe_runs.ACTIVE
    if pending:
        advice = advise_from_rules(context.rule_set, body.answers)
    else:
        advice = advise(context.rule_set, context.sessions, body.answers, body.probe_run_id,
                        context.advice)
    return _store(context, body, advice,
                  probe_run_id=body.probe_run_id if pending else advice.probe_run_id,
                  pending_probe_run=pending)


def _store(context: ContextDep, body: ReportCreate, advice: Advice, **cited: Any
           ) -> tuple[str, str, object]:
    """Store the advice as a report; `cited` says which probe runs it cites and how."""
    title = body.title or advice.answers.get("project_name")
    new = create_report(
        context.sessions, title=str(title) if title else None,
        answers=advice.answers.to_json(),
        answer_labels=answer_labels(context.rule_set, advice.answers),
        recommendation=advice.recommendation.model_dump(mode="json"),
        rules_version=advice.recommendation.rules_version, **cited)
    return new.id, new.delete_token, advice.recommendation


@router.post("", status_code=201, responses=errors(400, 404, 409, 413, 422, 429),
             response_model=ReportCreated, openapi_extra=body_schema("ReportCreate"),
             dependencies=[rate_limited("reports")], summary="Create a shareable report")
async def create(request: Request, context: ContextDep) -> Response:
    # Parsing, scoring and storing run in a worker thread (see app/web/api/bodies.py).
    body = await request.body()
    report_id, created = await run_in_threadpool(_create, context, body)
    return Response(created, status_code=201, media_type="application/json",
                    headers={"Location": f"/api/v1/reports/{report_id}"})


def _create(context: ContextDep, body: bytes) -> tuple[str, bytes]:
    parsed = parse_json_body(ReportCreate, body, context.separator_budget)
    report_id, token, recommendation = store_report(context, parsed)
    created = ReportCreated(id=report_id, url=f"/r/{report_id}", delete_token=token,
                            recommendation=recommendation)
    return report_id, created.model_dump_json().encode()


@router.get("/{report_id}", response_model=ReportPublic, responses=errors(404),
            summary="A report as JSON")
async def read(report_id: str, context: ContextDep) -> Response:
    # async: a rendering cached in memory is sent without a trip to the thread pool; any
    # database work happens in a worker thread, never on the event loop.
    body = cached_report_json(context, report_id)
    if body is None:
        body = await run_in_threadpool(report_json_bytes, context, report_id)
    if body is None:
        raise HTTPException(404, NOT_FOUND)
    return Response(body, media_type="application/json", headers=REPORT_HEADERS)


@router.delete("/{report_id}", status_code=204, responses={
    **errors(404), 401: {"description": "No bearer token"},
    403: {"description": "Wrong delete token"}}, summary="Delete a report with its delete token")
def delete(report_id: str, context: ContextDep,
           authorization: Annotated[str | None, Header(max_length=200)] = None) -> Response:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        if get_report(context.sessions, report_id) is None:
            raise HTTPException(404, NOT_FOUND)
        raise HTTPException(401, "send Authorization: Bearer <delete_token>",
                            headers={"WWW-Authenticate": "Bearer"})
    try:
        deleted = delete_report(context.sessions, report_id, token.strip())
        context.renders.forget(report_id)
    except DeleteRefused:
        raise HTTPException(403, "wrong delete token") from None
    if not deleted:
        raise HTTPException(404, NOT_FOUND)
    return Response(status_code=204)
