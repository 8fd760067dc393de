"""Evidence from several machines: which cited run speaks for which deployment target.

A machine labelled with a deployment-target id (`edge_linux`, `cloud_server`, ...) stands
for that target. For each target the answers name, the run from a machine labelled with it
is used when one was cited. Scoring takes one run today (`score_answers`): the run for the
first answered target (in questionnaire order) that has one, else the first cited run.
Every run's own evidence (highlights, claims, environment) is kept beside it, naming its
machine, so a reader sees where each measured point came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.decision.evidence import build_evidence
from app.decision.probe_document import ProbeRunDocument
from app.decision.questionnaire import Answers
from app.decision.rule_set import RuleSet


@dataclass(frozen=True)
class CitedRun:
    probe_run_id: str
    machine: str | None  # the agent that ran it; None for an imported document
    labels: tuple[str, ...]
    document: ProbeRunDocument


def answered_targets(answers: Answers) -> list[str]:
    targets = answers.get("deployment_targets") or ()
    return list(targets) if isinstance(targets, tuple | list) else [str(targets)]


def run_for_each_target(targets: Sequence[str], runs: Sequence[CitedRun]
                        ) -> dict[str, CitedRun | None]:
    """Return, per answered target, the first cited run from a machine labelled with it."""
    return {target: next((run for run in runs if target in run.labels), None)
            for target in targets}


def primary_run(targets: Sequence[str], runs: Sequence[CitedRun]) -> CitedRun:
    """Return the run scoring uses: the first answered target's labelled run, else the first."""
    for run in run_for_each_target(targets, runs).values():
        if run is not None:
            return run
    return runs[0]


def evidence_by_machine(rule_set: RuleSet, answers: Answers, runs: Sequence[CitedRun]
                        ) -> list[dict[str, Any]]:
    """Return each cited run's evidence with its machine and the targets it stands for."""
    targets = answered_targets(answers)
    chosen = run_for_each_target(targets, runs)
    primary = primary_run(targets, runs)
    out = []
    for run in runs:
        evidence = build_evidence(rule_set, answers, run.document, run.probe_run_id, "requested")
        out.append({
            "probe_run_id": run.probe_run_id, "machine": run.machine, "labels": list(run.labels),
            "stands_for": [t for t, r in chosen.items() if r is run],
            "used_for_scoring": run is primary,
            "evidence": evidence.model_dump(mode="json"),
        })
    return out
