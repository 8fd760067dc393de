"""Reports citing several probe runs (`probe_run_ids`): each run's machine and labels are
looked up, and the core reads each measure from the run standing for the user's targets
(app.decision.machine_evidence)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.decision.machine_evidence import CitedRun, evidence_by_machine
from app.decision.questionnaire import validate_answers
from app.decision.recommendation_json import recommendation_json
from app.decision.rule_set import RuleSet
from app.decision.scoring import score_answers
from app.storage import agents, probe_runs
from app.web.advice import Advice, AdviceCache, ProbeRunNotUsable

MAX_CITED_RUNS = 8


def cited_run_ids(probe_run_id: str | None, probe_run_ids: list[str] | None) -> list[str]:
    """Return the runs a request cites, probe_run_id first, each once."""
    return list(dict.fromkeys(([probe_run_id] if probe_run_id else []) + (probe_run_ids or [])))


def cited_runs(sessions: sessionmaker[Session], cache: AdviceCache, run_ids: list[str]
               ) -> list[CitedRun]:
    """Return the cited runs with their machines; 404/409 naming probe_run_ids otherwise."""
    out = []
    for run_id in run_ids:
        document = cache.document(sessions, run_id)
        row = probe_runs.get_run(sessions, run_id)
        if row is None:
            raise ProbeRunNotUsable(f"probe_run_ids: no probe run {run_id!r}", 404)
        if document is None:
            raise ProbeRunNotUsable(f"probe_run_ids: probe run {run_id} has no results "
                                    f"(status {row.status})", 409)
        agent = agents.by_name(sessions, row.agent_name) if row.agent_name else None
        out.append(CitedRun(run_id, row.agent_name, tuple(agent.labels) if agent else (),
                            document))
    return out


def advise_with_runs(rule_set: RuleSet, sessions: sessionmaker[Session], raw_answers: Any,
                     run_ids: list[str], cache: AdviceCache
                     ) -> tuple[Advice, list[dict[str, Any]]]:
    """Return the advice scored with each target's run (the core chooses), and every run's
    evidence. Not memoised: it depends on every cited run and on the machines' labels."""
    answers = validate_answers(rule_set.questionnaire, raw_answers)
    runs = cited_runs(sessions, cache, run_ids)
    recommendation = score_answers(rule_set, answers, runs=runs, probe_run_chosen="requested")
    used = recommendation.evidence.probe_run_id if recommendation.evidence else None
    return (Advice(answers, recommendation_json(rule_set, recommendation), used),
            evidence_by_machine(rule_set, answers, runs))
