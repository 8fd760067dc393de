"""One view of a stored report, used by every format: the JSON API, /r/{id}.json, the
HTML page and the Markdown download all start from load_report(context, id)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.decision.probe_document import ProbeRunDocument
from app.decision.questionnaire import validate_answers
from app.decision.recommendation import recommendation_from_snapshot
from app.decision.render_markdown import render_markdown
from app.decision.scoring import score_answers
from app.storage import probe_runs
from app.storage.reports import complete_pending, get_report, report_exists
from app.storage.tables import ReportRow
from app.web.api.schemas import ReportPublic
from app.web.wording import claim_check, metric_words

if TYPE_CHECKING:
    from app.web.context import ServiceContext


def report_public(row: ReportRow) -> ReportPublic:
    """Return the report as stored: answers, labels and recommendation exactly as made."""
    return ReportPublic(
        id=row.id, title=row.title, created_at=row.created_at, url=f"/r/{row.id}",
        json_url=f"/r/{row.id}.json", markdown_url=f"/r/{row.id}.md", answers=row.answers,
        answer_labels=row.answer_labels, rules_version=row.rules_version,
        probe_run_id=row.probe_run_id, pending_probe_run=row.pending_probe_run,
        probe_run_ids=row.probe_run_ids or ([row.probe_run_id] if row.probe_run_id else []),
        machine_evidence=row.machine_evidence or [],
        recommendation=recommendation_from_snapshot(row.recommendation),
    )


def load_report(context: ServiceContext, report_id: str) -> ReportRow | None:
    """Return the stored report, first completing it if the probe run it waited for is done."""
    row = get_report(context.sessions, report_id)
    if row is None or not row.pending_probe_run or row.probe_run_id is None:
        return row
    run = probe_runs.get_run(context.sessions, row.probe_run_id)
    if run is not None and run.status in probe_runs.ACTIVE:
        return row
    recommendation = None
    # Evidence is added only under the rules the report was made with; if they changed
    # while the run was going, the report keeps its rules-only recommendation.
    if run is not None and run.document is not None \
            and context.rule_set.version == row.rules_version:
        answers = validate_answers(context.rule_set.questionnaire, row.answers)
        recommendation = score_answers(
            context.rule_set, answers, ProbeRunDocument.model_validate(run.document),
            probe_run_id=run.id, probe_run_chosen="requested").model_dump(mode="json")
    complete_pending(context.sessions, report_id, recommendation)
    return get_report(context.sessions, report_id)


def report_markdown(report: ReportPublic, base_url: str) -> str:
    """Return the report as a Markdown document, with metric ids in words."""
    answers = {a.label: a.answer_label for a in report.answer_labels}
    return render_markdown(report.recommendation, title=report.title, answers=answers,
                           url=base_url.rstrip("/") + report.url,
                           describe_claim=claim_check, describe_source=metric_words,
                           machine_evidence=report.machine_evidence)


def cached_report_json(context: ServiceContext, report_id: str) -> bytes | None:
    """Return the report's JSON if this process holds it and knows the report exists;
    never touches the database (safe on the event loop)."""
    if not context.renders.known(report_id):
        return None
    return context.renders.peek(("json", report_id))


def report_json_bytes(context: ServiceContext, report_id: str) -> bytes | None:
    """Return the report's JSON (shared by /api/v1/reports/{id} and /r/{id}.json), or None."""
    renders = context.renders
    if not renders.exists(report_id, lambda: report_exists(context.sessions, report_id)):
        return None
    cached = renders.peek(("json", report_id))
    if cached is not None:
        return cached
    row = load_report(context, report_id)
    if row is None:
        return None
    rendered = report_public(row).model_dump_json(indent=2).encode()
    if not row.pending_probe_run:
        renders.store(("json", report_id), rendered)  # final: safe to reuse
    return rendered
