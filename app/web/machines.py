"""Machines (probe agents) and comparisons of their runs, as JSON-ready data: one function
per view, used by both the API and the HTML pages."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException

from app.decision.run_comparison import HEADLINE, compare_runs, headline
from app.storage import agents, probe_runs
from app.storage.tables import AgentRow, ProbeRunRow
from app.web.context import ServiceContext

RECENT_RUNS = 5
HISTORY_RUNS = 50
WITH_NUMBERS = ("succeeded", "partial")


def _run_brief(row: ProbeRunRow) -> dict[str, Any]:
    return {"id": row.id, "status": row.status, "mode": row.mode, "models": row.models,
            "frameworks": row.frameworks, "created_at": row.created_at,
            "finished_at": row.finished_at, "url": f"/api/v1/probe-runs/{row.id}"}


def machine_public(row: AgentRow, busy: set[str], runs: list[ProbeRunRow]) -> dict[str, Any]:
    return {"name": row.name, "labels": row.labels, "builtin": row.builtin,
            "status": agents.status_of(row, row.name in busy),
            "environment": row.environment, "created_at": row.created_at,
            "last_seen_at": row.last_seen_at, "revoked_at": row.revoked_at,
            "recent_runs": [_run_brief(r) for r in runs]}


def list_machines(context: ServiceContext) -> list[dict[str, Any]]:
    busy = probe_runs.busy_agents(context.sessions)
    return [machine_public(row, busy, probe_runs.runs_of_agent(context.sessions, row.name,
                                                               RECENT_RUNS))
            for row in agents.all_agents(context.sessions)]


def machine_history(context: ServiceContext, name: str) -> dict[str, Any]:
    """Return a machine with its runs over time: headline numbers, and each change from the
    run before flagged as regression or improvement when its interval excludes no change by
    more than 5%. 404 for an unknown machine."""
    row = agents.by_name(context.sessions, name) if agents.NAME_PATTERN.match(name) else None
    if row is None:
        raise HTTPException(404, "machine not found")
    runs = probe_runs.runs_of_agent(context.sessions, name, HISTORY_RUNS)
    out = machine_public(row, probe_runs.busy_agents(context.sessions), runs[:RECENT_RUNS])
    history = []
    finished = [r for r in reversed(runs) if r.status in WITH_NUMBERS and r.document]
    previous: ProbeRunRow | None = None
    for run in finished:
        changes: list[dict[str, Any]] = []
        if previous is not None:
            comparison = compare_runs(previous.document, run.document, only=HEADLINE)
            changes = [m.to_dict() for m in comparison.metrics]
        history.append({**_run_brief(run), "headline": headline(run.document),
                        "compared_with": previous.id if previous else None,
                        "changes": changes,
                        "flags": [c for c in changes if c["change"]]})
        previous = run
    out["history"] = list(reversed(history))  # newest first, like every list of runs
    return out


def _finished_document(context: ServiceContext, run_id: str, side: str) -> ProbeRunRow:
    row = probe_runs.get_run(context.sessions, run_id)
    if row is None:
        raise HTTPException(404, f"{side}: probe run not found")
    if row.document is None:
        raise HTTPException(409, f"{side}: probe run {run_id} has no results yet ({row.status})")
    return row


def compare_two_runs(context: ServiceContext, a: str, b: str) -> dict[str, Any]:
    """Return run b against run a, metric by metric (ratio > 1: b is better)."""
    row_a = _finished_document(context, a, "a")
    row_b = _finished_document(context, b, "b")
    comparison = compare_runs(row_a.document, row_b.document)

    def side(row: ProbeRunRow) -> dict[str, Any]:
        return {**_run_brief(row), "agent": row.agent_name or row.source,
                "environment": row.document.get("environment")}

    return {"a": side(row_a), "b": side(row_b), "direction": "ratio > 1 means b is better",
            **comparison.to_dict()}
