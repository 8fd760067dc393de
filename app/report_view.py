"""One view of a stored report, used by every format: the JSON API, /r/{id}.json, the
HTML page and the Markdown download all start from report_public(row)."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from app.api.schemas import ReportPublic
from app.recommendation import Recommendation
from app.render_cache import RenderCache
from app.render_markdown import render_markdown
from app.storage.reports import get_report, report_exists
from app.storage.tables import ReportRow


def report_public(row: ReportRow) -> ReportPublic:
    """Return the report as stored: answers, labels and recommendation exactly as made."""
    return ReportPublic(
        id=row.id, title=row.title, created_at=row.created_at, url=f"/r/{row.id}",
        json_url=f"/r/{row.id}.json", markdown_url=f"/r/{row.id}.md", answers=row.answers,
        answer_labels=row.answer_labels, rules_version=row.rules_version,
        probe_run_id=row.probe_run_id,
        recommendation=Recommendation.model_validate(row.recommendation),
    )


def report_markdown(report: ReportPublic, base_url: str) -> str:
    """Return the report as a Markdown document."""
    answers = {a.label: a.answer_label for a in report.answer_labels}
    return render_markdown(report.recommendation, title=report.title, answers=answers,
                           url=base_url.rstrip("/") + report.url)


def report_json_bytes(sessions: sessionmaker[Session], renders: RenderCache, report_id: str
                      ) -> bytes | None:
    """Return the report's JSON (shared by /api/v1/reports/{id} and /r/{id}.json), or None."""
    if not renders.exists(report_id, lambda: report_exists(sessions, report_id)):
        return None

    def render() -> bytes:
        row = get_report(sessions, report_id)
        return report_public(row).model_dump_json(indent=2).encode() if row else b""

    rendered = renders.get_or_render(("json", report_id), render)
    return rendered or None
