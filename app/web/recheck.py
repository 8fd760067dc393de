"""Re-checking a report: what today's rules and the latest runs would recommend for the
same answers, and how that differs. The stored report is never changed."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException

from app.decision.errors import AnswersError
from app.decision.recheck import diff_recommendations, facts_as_of
from app.storage import probe_runs
from app.web.advice import advise
from app.web.context import ServiceContext
from app.web.report_view import load_report


def latest_run_for(context: ServiceContext, cited: str | None) -> str | None:
    """Return the newest finished run from the machine that made the cited run; None means
    the service's default (its latest run)."""
    if cited is None:
        return None
    run = probe_runs.get_run(context.sessions, cited)
    if run is None or run.agent_name is None:
        return None
    newest = probe_runs.runs_of_agent(context.sessions, run.agent_name, limit=20)
    finished = [r for r in newest if r.status in ("succeeded", "partial") and r.document]
    return max(finished, key=lambda r: r.finished_at).id if finished else None


def recheck_report(context: ServiceContext, report_id: str) -> dict[str, Any]:
    """Return today's recommendation for a report's answers with the diff; 404 if unknown."""
    row = load_report(context, report_id)
    if row is None:
        raise HTTPException(404, "report not found")
    run_id = latest_run_for(context, row.probe_run_id)
    try:
        advice = advise(context.rule_set, context.sessions, row.answers, run_id, context.advice)
    except AnswersError as exc:
        problems = "; ".join(f"{p.location}: {p.message}" for p in exc.problems)
        raise HTTPException(409, f"the report's answers no longer fit today's questionnaire: "
                                 f"{problems}") from None
    after = advice.recommendation.model_dump(mode="json")
    return {
        "report_id": row.id, "report_url": f"/r/{row.id}", "title": row.title,
        "made_at": row.created_at,
        "rechecked_with": {"rules_version": context.rule_set.version,
                           "probe_run_id": advice.probe_run_id},
        "diff": diff_recommendations(row.recommendation, after, facts_as_of(context.rule_set)),
        "recommendation": after,
    }
