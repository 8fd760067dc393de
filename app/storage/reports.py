"""Storing and reading reports: immutable snapshots of a recommendation."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from app.storage.identifiers import is_well_formed, new_delete_token, new_id, token_matches
from app.storage.tables import ReportRow


@dataclass(frozen=True)
class NewReport:
    id: str
    delete_token: str
    row: ReportRow


def create_report(
    sessions: sessionmaker[Session], *, title: str | None, answers: dict[str, Any],
    answer_labels: list[Any], recommendation: dict[str, Any], rules_version: str,
    probe_run_id: str | None, pending_probe_run: bool = False,
    probe_run_ids: list[str] | None = None, machine_evidence: list[Any] | None = None,
) -> NewReport:
    """Store a report in one transaction and return its id and one-time delete token."""
    token, token_hash = new_delete_token()
    row = ReportRow(
        id=new_id(), title=title, created_at=dt.datetime.now(dt.UTC), answers=answers,
        answer_labels=answer_labels, recommendation=recommendation, rules_version=rules_version,
        probe_run_id=probe_run_id, delete_token_hash=token_hash,
        pending_probe_run=pending_probe_run, probe_run_ids=probe_run_ids,
        machine_evidence=machine_evidence,
    )
    with sessions.begin() as session:
        session.add(row)
    return NewReport(row.id, token, row)


def get_report(sessions: sessionmaker[Session], report_id: str) -> ReportRow | None:
    """Return the report, or None for unknown and malformed ids alike."""
    if not is_well_formed(report_id):
        return None
    with sessions() as session:
        return session.get(ReportRow, report_id)


def complete_pending(sessions: sessionmaker[Session], report_id: str,
                     recommendation: dict[str, Any] | None) -> None:
    """Finish a report that waited for its probe run: once, whoever gets there first."""
    values: dict[str, Any] = {"pending_probe_run": False}
    if recommendation is not None:
        values["recommendation"] = recommendation
    with sessions.begin() as session:
        session.execute(update(ReportRow)
                        .where(ReportRow.id == report_id, ReportRow.pending_probe_run.is_(True))
                        .values(**values))


def report_exists(sessions: sessionmaker[Session], report_id: str) -> bool:
    """Return whether the report exists: one indexed lookup, no JSON decoding."""
    if not is_well_formed(report_id):
        return False
    with sessions() as session:
        return session.scalar(select(ReportRow.id).where(ReportRow.id == report_id)) is not None


class DeleteRefused(Exception):
    pass


def delete_report(sessions: sessionmaker[Session], report_id: str, token: str) -> bool:
    """Delete with the right token; False if unknown, DeleteRefused if the token is wrong."""
    if not is_well_formed(report_id):
        return False
    with sessions.begin() as session:
        row = session.get(ReportRow, report_id)
        if row is None:
            return False
        if not token_matches(token, row.delete_token_hash):
            raise DeleteRefused()
        session.delete(row)
    return True
