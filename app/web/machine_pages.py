"""HTML pages for machines, comparisons and report re-checks; each has a JSON twin in the API, built by the
same function (app.web.machines)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse

from app.web import machines
from app.web.api.deps import ContextDep
from app.web.api.reports import REPORT_HEADERS
from app.web.pages import not_found, render
from app.web.recheck import recheck_report

router = APIRouter(include_in_schema=False)


@router.get("/machines", response_class=HTMLResponse)
def machines_page(context: ContextDep) -> HTMLResponse:
    return render("machines.html", title="Machines", machines=machines.list_machines(context),
                  headers={"Link": '</api/v1/machines>; rel="alternate"; type="application/json"'})


@router.get("/machines/{name}", response_class=HTMLResponse)
def machine_page(name: str, context: ContextDep) -> HTMLResponse:
    try:
        machine = machines.machine_history(context, name)
    except HTTPException:
        return not_found()
    return render("machine.html", title=f"Machine {name}", machine=machine,
                  headers={"Link": f'</api/v1/machines/{name}>; rel="alternate"; '
                                   'type="application/json"'})


@router.get("/compare", response_class=HTMLResponse)
def compare_page(context: ContextDep, a: str = "", b: str = "") -> HTMLResponse:
    if not a or not b:
        return render("compare_runs.html", title="Compare runs", comparison=None, error=None,
                      a=a, b=b)
    try:
        comparison = machines.compare_two_runs(context, a[:64], b[:64])
    except HTTPException as exc:
        return render("compare_runs.html", status_code=exc.status_code, title="Compare runs",
                      comparison=None, error=exc.detail, a=a, b=b)
    return render("compare_runs.html", title="Compare runs", comparison=comparison, error=None, a=a, b=b)


@router.get("/r/{report_id}/recheck", response_class=HTMLResponse)
def recheck_page(report_id: str, context: ContextDep) -> HTMLResponse:
    try:
        result = recheck_report(context, report_id)
    except HTTPException as exc:
        if exc.status_code == 404:
            return not_found()
        return render("recheck.html", status_code=exc.status_code, title="Re-check",
                      result=None, error=exc.detail, report_id=report_id, headers=REPORT_HEADERS)
    return render("recheck.html", title="Re-check", result=result, error=None,
                  report_id=report_id,
                  headers={**REPORT_HEADERS, "Link": f'</api/v1/reports/{report_id}/recheck>; '
                                                     'rel="alternate"; type="application/json"'})
