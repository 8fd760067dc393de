"""score_answers: validated answers (and optionally probe numbers) -> Recommendation."""

from __future__ import annotations

from collections.abc import Sequence

from app.evidence import build_evidence, measure_lookup
from app.flips import find_flips
from app.measures import MeasureLookup
from app.probe_document import ProbeRunDocument
from app.questionnaire import Answers
from app.recommendation import Caveat, Reason, Recommendation, ToolchainStep
from app.rule_set import FRAMEWORKS, LoadedRule, RuleSet


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


def tally(fired: Sequence[LoadedRule]) -> dict[str, int]:
    """Return each framework's score: the sum of the points its fired rules give it."""
    scores = dict.fromkeys(FRAMEWORKS, 0)
    for loaded in fired:
        for framework, points in loaded.rule.points.items():
            scores[framework] += points
    return scores


def decide(rule_set: RuleSet, scores: dict[str, int]) -> str:
    """Return the framework with the higher score; ties go to the policy's tie-break."""
    if scores["pytorch"] == scores["tensorflow"]:
        return rule_set.policy.tie_break
    return "pytorch" if scores["pytorch"] > scores["tensorflow"] else "tensorflow"


def confidence(scores: dict[str, int]) -> float:
    """Return 0.5 + 0.5 * |P - T| / (P + T): how one-sided the points are (rules/policy.yaml)."""
    total = scores["pytorch"] + scores["tensorflow"]
    if total == 0:
        return 0.5
    return round(0.5 + 0.5 * abs(scores["pytorch"] - scores["tensorflow"]) / total, 4)


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
