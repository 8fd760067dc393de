"""score_answers: validated answers (and optionally probe numbers) -> Recommendation."""

from __future__ import annotations

from app.decision.evidence import build_evidence, measure_lookup
from app.decision.flips import find_flips
from app.decision.measures import MeasureLookup
from app.decision.probe_document import ProbeRunDocument
from app.decision.questionnaire import Answers
from app.decision.recommendation import Caveat, Reason, Recommendation, ToolchainStep
from app.decision.rule_set import FRAMEWORKS, LoadedRule, RuleSet
from app.decision.verdict import confidence, decide, tally


def fired_rules(rule_set: RuleSet, answers: Answers, lookup: MeasureLookup | None
                ) -> list[LoadedRule]:
    """Return the scoring rules whose condition holds, in rule-set order."""
    plain = answers.plain
    predicates = rule_set.predicates
    fired = []
    for index in rule_set.guard_index.candidates(plain):
        loaded, holds = predicates[index]
        if holds(plain, lookup):
            fired.append(loaded)
    return fired


def choose_toolchain(rule_set: RuleSet, answers: Answers) -> dict[str, list[ToolchainStep]]:
    """Return the concrete tools per framework and stage for these answers."""
    stage_order = {stage: i for i, stage in enumerate(rule_set.policy.stages)}
    chosen: dict[str, list[ToolchainStep]] = {f: [] for f in FRAMEWORKS}
    for loaded in rule_set.toolchain:
        rule = loaded.rule
        if loaded.condition is not None and not loaded.condition.predicate(answers.plain, None):
            continue
        chosen[rule.framework].append(ToolchainStep(
            stage=rule.stage, tool=rule.tool, why=rule.why, rule_id=rule.id,
            sources=list(rule.sources),
        ))
    for steps in chosen.values():
        steps.sort(key=lambda s: stage_order[s.stage])
    return chosen


def choose_caveats(rule_set: RuleSet, answers: Answers,
                   toolchain: dict[str, list[ToolchainStep]]) -> list[Caveat]:
    """Return the tool-status caveats that concern these answers or the chosen tools."""
    named = [step.tool for steps in toolchain.values() for step in steps]
    caveats = []
    for loaded in rule_set.tools:
        status = loaded.status
        relevant = loaded.condition is not None and loaded.condition.predicate(answers.plain, None)
        # A chosen tool that carries a status brings its caveat with it.
        relevant = relevant or any(status.tool in tool for tool in named)
        if relevant:
            caveats.append(Caveat(tool=status.tool, status=status.status, why=status.why,
                                  sources=list(status.sources), as_of=status.as_of.isoformat()))
    return caveats


def score_answers(
    rule_set: RuleSet,
    answers: Answers,
    probe_run: ProbeRunDocument | None = None,
    *,
    probe_run_id: str | None = None,
    probe_run_chosen: str = "requested",
) -> Recommendation:
    """Return the Recommendation for validated answers, with evidence when a probe run is given."""
    lookup = measure_lookup(probe_run)
    fired = fired_rules(rule_set, answers, lookup)
    scores = tally(fired)
    recommended = decide(rule_set, scores)
    reasons = [
        Reason(rule_id=r.rule.id, framework=framework, points=points, why=r.rule.why,
               sources=list(r.rule.sources), as_of=r.rule.as_of.isoformat(),
               evidence=bool(r.condition.measures))
        for r in fired
        for framework, points in r.rule.points.items()
    ]
    reasons.sort(key=lambda r: (-r.points, r.framework != recommended, r.rule_id))
    toolchain = choose_toolchain(rule_set, answers)
    evidence = None
    if probe_run is not None:
        evidence = build_evidence(rule_set, answers, probe_run, probe_run_id, probe_run_chosen)
    return Recommendation(
        recommended=recommended,
        scores=scores,
        confidence=confidence(scores),
        reasons=reasons,
        toolchain=toolchain,
        caveats=choose_caveats(rule_set, answers, toolchain),
        flips=find_flips(rule_set, answers, lookup, fired),
        evidence=evidence,
        rules_version=rule_set.version,
    )
