"""HTML pages: the questionnaire form, report pages (with JSON and Markdown twins), the
probes pages, the rules page and robots.txt. Rendered server-side; JavaScript only adds
comfort."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.concurrency import run_in_threadpool

from app.decision.errors import AnswersError
from app.decision.probe_document import ProbeRunDocument
from app.decision.questionnaire import validate_answers
from app.decision.rule_set import FRAMEWORKS
from app.storage import agents, probe_runs
from app.storage.identifiers import is_well_formed, token_matches
from app.storage.reports import get_report, report_exists
from app.web import charts, wording
from app.web.advice import ProbeRunNotUsable
from app.web.api.deps import ContextDep, check_rate
from app.web.api.probe_runs import readable_runs
from app.web.api.reports import REPORT_HEADERS, store_report
from app.web.api.schemas import MAX_MODELS_PER_RUN, ReportCreate
from app.web.compare import compare_reports
from app.web.context import ServiceContext
from app.web.form_answers import answers_from_form, form_values
from app.web.progress import progress_line, run_duration, run_machine
from app.web.report_view import (
    cached_report_json,
    load_report,
    report_json_bytes,
    report_markdown,
    report_public,
)
from app.web.security import CSP, is_https
from probes.plan import MODELS, SMOKE, WORKLOADS

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
templates = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,  # a missing variable is a bug, never blank text
    trim_blocks=True, lstrip_blocks=True,
)
templates.globals["charts"] = charts
templates.globals["wording"] = wording
LABELS = wording.FRAMEWORK_LABELS
templates.globals["LABELS"] = LABELS
templates.filters["framework_label"] = lambda name: LABELS.get(name, name)
templates.globals["progress_line"] = progress_line
templates.globals["run_duration"] = run_duration
templates.globals["run_machine"] = run_machine
router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).resolve().parents[2] / "static"
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


def render(name: str, status_code: int = 200, headers: dict[str, str] | None = None,
           **context: Any) -> HTMLResponse:
    html = templates.get_template(name).render(**context)
    return HTMLResponse(html, status_code=status_code, headers=headers)


def not_found(message: str | None = None) -> HTMLResponse:
    return render("not_found.html", status_code=404, title="Not found", message=message)


def wants_html(request: Request) -> bool:
    """Return whether a 404 should be a page: a browser asking for a page, not the API."""
    path = request.url.path
    if path.startswith("/api/") or path.endswith((".json", ".md")):
        return False
    return "text/html" in request.headers.get("accept", "")


def report_id_from(text: str) -> str | None:
    """Return the report id in a pasted report link (or a bare id), else None."""
    text = text.strip()
    path = urlsplit(text).path if "/" in text else text
    last = path.rstrip("/").rsplit("/", 1)[-1]
    for suffix in (".json", ".md"):
        last = last.removesuffix(suffix)
    return last if is_well_formed(last) else None


@router.get("/", response_class=HTMLResponse)
def questionnaire_page(context: ContextDep,
                       start_from: Annotated[str | None, Query(alias="from", max_length=300)] = None
                       ) -> HTMLResponse:
    # Required questions start unanswered: a report must only ever hold answers a person
    # chose. "Start from this report" (?from=ID) fills in that report's answers instead.
    questionnaire = context.rule_set.questionnaire
    values: dict[str, Any] = {}
    source = None
    if start_from is not None:
        report_id = report_id_from(start_from)
        row = load_report(context, report_id) if report_id else None
        if row is None:
            return not_found("The report to start from does not exist (it may have been "
                             "deleted). Start a new questionnaire instead.")
        values = form_values(questionnaire, row.answers)
        source = report_public(row)
    return render("questionnaire.html", title="Framework Advisor", questionnaire=questionnaire,
                  values=values, errors={}, form_error=None, measure_now=False,
                  start_from=source, started_from=source.id if source else None)


@router.post("/reports", response_class=HTMLResponse)
async def submit_questionnaire(request: Request, context: ContextDep) -> Response:
    # Cross-site posts were refused by the security middleware. Everything after reading
    # the body (parsing, validation, scoring, storage) runs in a worker thread.
    body = await request.body()
    return await run_in_threadpool(_submit_questionnaire, request, context, body)


def _form_field_budget(context: ServiceContext) -> int:
    """Return the most fields a questionnaire form post can carry (one per option of a multi
    question, one per other question, the form-only fields and a margin)."""
    questions = list(context.rule_set.questionnaire.questions())
    return sum(len(q.options) if q.type == "multi" else 1 for q in questions) + 16


def _submit_questionnaire(request: Request, context: ServiceContext, body: bytes) -> Response:
    questionnaire = context.rule_set.questionnaire
    fields = body.count(b"&") + 1
    if fields > _form_field_budget(context):
        # More fields than the questionnaire has inputs: refused before parsing, which for
        # 2 MiB of tiny fields costs a quarter of a second of CPU.
        return render("questionnaire.html", status_code=422, title="Framework Advisor",
                      questionnaire=questionnaire, values={}, errors={}, measure_now=False,
                      start_from=None, started_from=None,
                      form_error=f"The form sent {fields} fields; it has at most "
                                 f"{_form_field_budget(context)}.")
    form = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    raw = answers_from_form(questionnaire, form)
    measure_now = form.get("measure_now", [""])[-1] == "true"
    started_from = report_id_from(form.get("from_report", [""])[-1])

    def again(status: int, message: str, errors: dict[str, str] | None = None,
              headers: dict[str, str] | None = None) -> HTMLResponse:
        return render("questionnaire.html", status_code=status, title="Framework Advisor",
                      questionnaire=questionnaire, values=raw, errors=errors or {},
                      form_error=message, measure_now=measure_now, headers=headers,
                      start_from=None, started_from=started_from)

    wait = check_rate(context, request, "reports")
    if wait is not None:
        return again(429, f"Too many reports from your address; try again in {wait:.0f} s.",
                     headers={"Retry-After": str(max(1, round(wait)))})
    try:
        validate_answers(questionnaire, raw)  # refuse bad answers before queuing any run
    except AnswersError as exc:
        return again(422, "Some answers need another look; see the marked questions.",
                     {p.location: _plain_problem(p.message) for p in exc.problems})
    # Like the API's probe_run_id: cite a run (queued, running or done) by id.
    probe_run_id = form.get("probe_run_id", [""])[-1].strip() or None
    if probe_run_id is not None and not is_well_formed(probe_run_id):
        return again(404, f"There is no probe run {probe_run_id[:64]!r}.")
    if measure_now:
        run = None if check_rate(context, request, "probe_runs") is not None else \
            probe_runs.enqueue_if_room(context.sessions, context.settings.probe_queue_limit,
                                       models=list(SMOKE), frameworks=list(FRAMEWORKS),
                                       mode="quick")
        if run is None:
            return again(429, "The probes cannot be queued right now (too many runs); "
                              "untick the measurement option or try again later.")
        probe_run_id = run.id
    try:
        report_id, token, _ = store_report(context, ReportCreate(answers=raw,
                                                                 probe_run_id=probe_run_id))
    except ProbeRunNotUsable as exc:
        return again(409, str(exc))
    target = f"/r/{report_id}" + (f"?from={started_from}" if started_from else "")
    response = RedirectResponse(target, status_code=303)
    # The delete token reaches the report page once through this short-lived cookie,
    # which that page drops; it never appears in a URL, so it cannot leak through
    # history or referrers. The page's script keeps it in sessionStorage (this tab only)
    # so that reloads, such as the one when a probe run finishes, still show it.
    response.set_cookie(f"delete_token_{report_id}", token, max_age=600, httponly=True,
                        samesite="strict", path=f"/r/{report_id}",
                        secure=is_https(request, context.settings.trust_forwarded_for))
    return response


def _plain_problem(message: str) -> str:
    # The API's message lists option values for scripts; a person sees the options on the form.
    if message.startswith("is required"):
        return "This question needs an answer."
    return message


@router.get("/r/{report_id}.json")
async def report_json(report_id: str, context: ContextDep) -> Response:
    body = cached_report_json(context, report_id) or \
        await run_in_threadpool(report_json_bytes, context, report_id)
    if body is None:
        raise HTTPException(404, "report not found")
    return Response(body, media_type="application/json", headers={
        **REPORT_HEADERS,
        "Content-Disposition": f'inline; filename="framework-advisor-{report_id}.json"'})


@router.get("/r/{report_id}.md")
def report_md(report_id: str, request: Request, context: ContextDep) -> Response:
    row = load_report(context, report_id)
    if row is None:
        raise HTTPException(404, "report not found")
    text = report_markdown(report_public(row), str(request.base_url))
    return Response(text, media_type="text/markdown; charset=utf-8", headers={
        **REPORT_HEADERS,
        "Content-Disposition": f'attachment; filename="framework-advisor-{report_id}.md"'})


def _report_html(context: ContextDep, report_id: str, delete_token: str | None,
                 base_url: str) -> tuple[bytes, bool]:
    """Return (page, final): a final page can be cached, a pending one cannot."""
    row = load_report(context, report_id)
    if row is None:
        return b"", False
    report = report_public(row)
    run = None
    if row.pending_probe_run and row.probe_run_id:
        run = probe_runs.get_run(context.sessions, row.probe_run_id)
    document = (context.advice.document(context.sessions, report.probe_run_id)
                if report.probe_run_id else None)
    return templates.get_template("report.html").render(
        title=report.title or "Framework Advisor report", report=report,
        rec=report.recommendation, delete_token=delete_token,
        # Only a page that shows the token (never cached) names this request's host.
        delete_url=(base_url.rstrip("/") + f"/api/v1/reports/{report_id}") if delete_token else "",
        measurements=charts.measurement_tables(document) if document else None,
        document=document, pending_run=run, target_labels=_target_labels(context),
        now=dt.datetime.now(dt.UTC),
    ).encode(), not row.pending_probe_run


def _target_labels(context: ContextDep) -> dict[str, str]:
    targets = context.rule_set.questions["deployment_targets"]
    return {value: targets.label_of(value) for value in targets.values}


def _verified_token(context: ContextDep, report_id: str, token: str | None) -> str | None:
    """Return the cookie's delete token only if it is this report's: a forged cookie is
    neither shown as the token nor a way around the render cache."""
    if not token or len(token) > 200:
        return None
    row = get_report(context.sessions, report_id)
    return token if row is not None and token_matches(token, row.delete_token_hash) else None


def _report_page_html(context: ServiceContext, report_id: str, sent: str | None,
                      base_url: str) -> bytes:
    """Return the report page (b"" if there is none): the database work of report_page."""
    if not context.renders.exists(report_id, lambda: report_exists(context.sessions, report_id)):
        return b""
    token = _verified_token(context, report_id, sent)
    html = None if token else context.renders.peek(("html", report_id))
    if html is None:
        html, final = _report_html(context, report_id, token, base_url)
        if final and not token:  # the delete token is shown once, so never cached
            context.renders.store(("html", report_id), html)
    return html


@router.get("/r/{report_id}", response_class=HTMLResponse)
async def report_page(report_id: str, request: Request, context: ContextDep) -> HTMLResponse:
    # async: a cached page costs less than the trip to the thread pool (`advisor bench server`);
    # anything that needs the database (a cookie's token is checked against the stored hash)
    # runs in a worker thread.
    cookie = f"delete_token_{report_id}"
    sent = request.cookies.get(cookie) if "cookie" in request.headers else None
    html = context.renders.peek(("html", report_id)) \
        if sent is None and context.renders.known(report_id) else None
    if html is None:
        html = await run_in_threadpool(_report_page_html, context, report_id, sent,
                                       str(request.base_url))
    if not html:
        return not_found()
    response = HTMLResponse(html, headers={
        **REPORT_HEADERS,
        "Link": f'</r/{report_id}.json>; rel="alternate"; type="application/json"'})
    if sent:
        response.delete_cookie(cookie, path=f"/r/{report_id}")
    return response


@router.get("/r/{report_id}/compare", response_class=HTMLResponse)
def compare_page(report_id: str, context: ContextDep,
                 other: Annotated[str | None, Query(max_length=300)] = None) -> HTMLResponse:
    """Two reports side by side: answers that differ, verdicts, scores, reasons gained and lost."""
    row = load_report(context, report_id)
    if row is None:
        return not_found()
    first = report_public(row)
    error = None
    second = None
    if other is not None:
        other_id = report_id_from(other)
        other_row = load_report(context, other_id) if other_id else None
        if other_row is None:
            error = ("That is not a link to a report here. Paste the whole link of the second "
                     "report, like " + first.url + ".")
        else:
            second = report_public(other_row)
    comparison = compare_reports(context.rule_set.questionnaire, first, second) if second else None
    return render("compare.html", status_code=422 if error else 200, title="Compare reports",
                  first=first, second=second, comparison=comparison, error=error,
                  other=other or "")


@router.get("/probes", response_class=HTMLResponse)
def probes_page(context: ContextDep) -> HTMLResponse:
    return _probes_page(context, None, 200)


def _probes_page(context: ServiceContext, error: str | None, status: int) -> HTMLResponse:
    return render("probes.html", status_code=status, title="Probes", runs=_recent(context),
                  error=error, now=dt.datetime.now(dt.UTC), machines=_live_agents(context),
                  server_agent=context.settings.server_agent_name, smoke=SMOKE,
                  workloads=WORKLOADS, max_models=MAX_MODELS_PER_RUN)


def _live_agents(context: ServiceContext) -> list[Any]:
    return [a for a in agents.all_agents(context.sessions) if a.revoked_at is None]


def _recent(context: ServiceContext) -> list[Any]:
    # One unreadable row is left out (and logged), never a 500 for every visitor.
    return [row for row, _ in readable_runs(context)]


@router.post("/probes", response_class=HTMLResponse)
async def start_probe_run(request: Request, context: ContextDep) -> Response:
    body = await request.body()
    return await run_in_threadpool(_start_probe_run, request, context, body)


def _start_probe_run(request: Request, context: ServiceContext, body: bytes) -> Response:
    form = parse_qs(body.decode("utf-8", errors="replace"), max_num_fields=64) \
        if body.count(b"&") < 64 else {}  # the form has at most a dozen fields
    models = list(dict.fromkeys(m for m in form.get("models", []) if m in MODELS))
    frameworks = [f for f in form.get("frameworks", []) if f in FRAMEWORKS]
    mode = form.get("mode", ["quick"])[-1]
    machine = form.get("machine", [""])[-1] or context.settings.server_agent_name
    error = None
    if not models or not frameworks or mode not in ("quick", "full"):
        error = "Choose at least one model and one framework, and quick or full mode."
    elif len(models) > MAX_MODELS_PER_RUN:
        error = (f"Choose at most {MAX_MODELS_PER_RUN} models per run (you chose "
                 f"{len(models)}); start another run for the rest.")
    elif machine != context.settings.server_agent_name and \
            all(a.name != machine for a in _live_agents(context)):
        error = "That machine is not an enrolled agent any more; choose another."
    elif check_rate(context, request, "probe_runs") is not None:
        error = "Too many probe runs from your address; try again later."
    row = None if error else probe_runs.enqueue_if_room(
        context.sessions, context.settings.probe_queue_limit, models=models,
        frameworks=frameworks, mode=mode, machine={"name": machine})
    if row is None:
        return _probes_page(context, error or "The probe queue is full; try again when a run "
                                              "has finished.", 422)
    return RedirectResponse(f"/probes/{row.id}", status_code=303)


@router.get("/probes/{run_id}", response_class=HTMLResponse)
def probe_run_page(run_id: str, context: ContextDep) -> HTMLResponse:
    row = probe_runs.get_run(context.sessions, run_id)
    if row is None:
        return not_found()
    document = ProbeRunDocument.model_validate(row.document) if row.document else None
    return render("probe_run.html", title="Probe run", run=row, document=document,
                  measurements=charts.measurement_tables(document) if document else None,
                  ahead=probe_runs.queued_ahead(context.sessions, row)
                  if row.status == "queued" else None, now=dt.datetime.now(dt.UTC))


@router.get("/rules", response_class=HTMLResponse)
def rules_page(context: ContextDep) -> HTMLResponse:
    rule_set = context.rule_set
    labels = {gid: group.label for gid, group in rule_set.policy.groups.items()}
    rows = [{"rule": loaded.rule, "group": labels.get(loaded.rule.group, loaded.rule.group),
             "when": wording.condition_words(loaded.rule.when, rule_set.questionnaire)}
            for loaded in rule_set.rules]
    groups = list(dict.fromkeys(labels.values()))
    toolchain = [{"rule": t.rule, "when": wording.condition_words(t.rule.when, rule_set.questionnaire)}
                 for t in rule_set.toolchain]
    return render("rules.html", title="Rules", rule_set=rule_set, rows=rows, groups=groups,
                  toolchain=toolchain)



@router.get("/docs", response_class=HTMLResponse)
def api_docs() -> HTMLResponse:
    # Swagger UI sets inline styles from script; only this page allows them, and
    # still only from this origin.
    return render("docs.html", headers={"Content-Security-Policy": DOCS_CSP})


@router.get("/favicon.ico")
def favicon() -> Response:
    # Browsers ask for /favicon.ico whatever the page links; the SVG answers it.
    return Response((STATIC / "favicon.svg").read_bytes(), media_type="image/svg+xml",
                    headers={"Cache-Control": "public, max-age=86400"})


@router.get("/robots.txt", response_class=PlainTextResponse)
def robots() -> str:
    return "User-agent: *\nDisallow: /r/\n"
