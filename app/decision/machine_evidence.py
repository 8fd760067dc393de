"""Evidence from several machines: which cited run speaks for which deployment target.

A machine labelled with a deployment-target id (`edge_linux`, `cloud_server`, ...) stands
for that target. For each target the answers name, the run from a machine labelled with it
is used when one was cited; the first cited run speaks for targets without a machine of
their own. A measured rule holds when the numbers of any consulted machine make it hold
(`fired_on_each_machine`): the edge box may show TensorFlow faster while the GPU server
shows PyTorch faster, and both points stand, each naming its machine (`Reason.machine`),
within the measured group's cap. A rule is counted once however many machines support
it. Every run's own evidence (highlights, claims, environment) is kept beside it, naming
its machine, so a reader sees where each measured point came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.decision.evidence import build_evidence
from app.decision.measures import MeasureLookup
from app.decision.probe_document import ProbeRunDocument
from app.decision.questionnaire import Answers
from app.decision.rule_set import LoadedRule, RuleSet


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


def runs_in_preference(targets: Sequence[str], runs: Sequence[CitedRun]) -> list[CitedRun]:
    """Return the runs scoring consults: each answered target's own machine (in
    questionnaire order), then the first cited run when some target has no machine of its
    own (it speaks for those; with no labelled machine at all, it is the only one)."""
    chosen = run_for_each_target(targets, runs)
    ordered: list[CitedRun] = []
    for run in chosen.values():
        if run is not None and all(run is not seen for seen in ordered):
            ordered.append(run)
    if (not ordered or None in chosen.values()) and all(runs[0] is not s for s in ordered):
        ordered.append(runs[0])
    return ordered


def fired_on_each_machine(rule_set: RuleSet, answers: Answers,
                          lookups: Sequence[tuple[str, MeasureLookup]]
                          ) -> tuple[list[LoadedRule], dict[str, str]]:
    """Return the scoring rules that hold (in rule-set order) and, for each measured one,
    the machine whose numbers make it hold: the first of `lookups` (best first) that does.
    A measured rule is counted once however many machines support it, and rules on both
    sides can hold when machines disagree; the measured group's cap bounds the total."""
    plain = answers.plain
    fired: list[LoadedRule] = []
    machines: dict[str, str] = {}
    for loaded in rule_set.rules:
        holds = loaded.condition.predicate
        if not loaded.condition.measures:
            if holds(plain, None):
                fired.append(loaded)
            continue
        for machine, lookup in lookups:
            if holds(plain, lookup):
                fired.append(loaded)
                machines[loaded.rule.id] = machine
                break
    return fired, machines


def machine_name(run: CitedRun) -> str:
    """Return how reasons name a run's machine (an imported run has none: its id)."""
    return run.machine or f"imported run {run.probe_run_id}"


def evidence_by_machine(rule_set: RuleSet, answers: Answers, runs: Sequence[CitedRun]
                        ) -> list[dict[str, Any]]:
    """Return each cited run's evidence with its machine and the targets it stands for."""
    targets = answered_targets(answers)
    chosen = run_for_each_target(targets, runs)
    consulted = runs_in_preference(targets, runs)
    out = []
    for run in runs:
        evidence = build_evidence(rule_set, answers, run.document, run.probe_run_id, "requested")
        out.append({
            "probe_run_id": run.probe_run_id, "machine": run.machine, "labels": list(run.labels),
            "stands_for": [t for t, r in chosen.items() if r is run],
            "used_for_scoring": any(run is used for used in consulted),
            "evidence": evidence.model_dump(mode="json"),
        })
    return out
