"""score_answers: validated answers (and optionally probe numbers) -> Recommendation.

The path reads top to bottom: fire the rules, sum points per factor group under each
group's cap, check the constraints (a framework with no production path to a target the
user needs), decide, then attach the toolchain per target, caveats, pointers beyond the two
frameworks, the single-answer changes that would flip the verdict, and measured evidence.
"""

from __future__ import annotations

from app.decision.evidence import build_evidence, measure_lookup
from app.decision.flips import find_flips
from app.decision.measures import MeasureLookup
from app.decision.probe_document import ProbeRunDocument
from app.decision.questionnaire import Answers
from app.decision.recommendation import (
    AlsoConsider,
    Caveat,
    Constraint,
    GroupScore,
    Reason,
    Recommendation,
    ToolchainStep,
)
from app.decision.rule_set import FRAMEWORKS, LoadedConstraint, LoadedRule, RuleSet
from app.decision.verdict import GroupPoints, capped_scores, decide, group_points, summary


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


def fired_constraints(rule_set: RuleSet, plain: dict) -> list[LoadedConstraint]:
    """Return the constraints that hold for these answers."""
    return [c for c in rule_set.constraints if c.condition.predicate(plain, None)]


def group_scores(rule_set: RuleSet, raw: GroupPoints) -> list[GroupScore]:
    """Return points per factor group, before and after its cap, in policy order."""
    out = []
    for group_id, group in rule_set.policy.groups.items():
        points = raw.get(group_id)
        if not points or not any(points.values()):
            continue
        out.append(GroupScore(
            group=group_id, label=group.label, cap=group.cap, raw=dict(points),
            pytorch=min(points["pytorch"], group.cap), tensorflow=min(points["tensorflow"], group.cap),
        ))
    return out


def choose_toolchain(rule_set: RuleSet, answers: Answers) -> dict[str, list[ToolchainStep]]:
    """Return the concrete tools per framework, stage and target for these answers."""
    stage_order = {stage: i for i, stage in enumerate(rule_set.policy.stages)}
    chosen: dict[str, list[ToolchainStep]] = {f: [] for f in FRAMEWORKS}
    for loaded in rule_set.toolchain:
        rule = loaded.rule
        if loaded.condition is not None and not loaded.condition.predicate(answers.plain, None):
            continue
        chosen[rule.framework].append(ToolchainStep(
            stage=rule.stage, tool=rule.tool, why=rule.why, rule_id=rule.id,
            sources=list(rule.sources), target=rule.target, maturity=rule.maturity,
        ))
    for steps in chosen.values():
        steps.sort(key=lambda s: stage_order[s.stage])
    return chosen


def choose_caveats(rule_set: RuleSet, answers: Answers, recommended_steps: list[ToolchainStep]
                   ) -> list[Caveat]:
    """Return caveats for tools the team runs today or the recommended stack names."""
    in_stack = set(answers.plain.get("current_stack") or ())
    named = [step.tool for step in recommended_steps]
    caveats = []
    for loaded in rule_set.tools:
        status = loaded.status
        in_use = status.stack_value is not None and status.stack_value in in_stack
        if in_use or any(status.tool in tool for tool in named):
            caveats.append(Caveat(tool=status.tool, status=status.status, why=status.why,
                                  migration=status.migration, sources=list(status.sources),
                                  as_of=status.as_of.isoformat(), in_use=in_use))
    caveats.sort(key=lambda c: not c.in_use)
    return caveats


def score_answers(
    rule_set: RuleSet,
    answers: Answers,
    probe_run: ProbeRunDocument | None = None,
    *,
    probe_run_id: str | None = None,
    probe_run_chosen: str = "requested",
    provisional: bool = False,
) -> Recommendation:
    """Return the Recommendation for validated answers, with evidence when a probe run is given."""
    lookup = measure_lookup(probe_run, rule_set)  # evidence gate: app/decision/evidence.py
    fired = fired_rules(rule_set, answers, lookup)
    raw = group_points(fired)
    scores = capped_scores(rule_set.policy, raw)
    constraints = fired_constraints(rule_set, answers.plain)
    verdict = decide(rule_set.policy, scores, [c.rule for c in constraints], raw)
    recommended = verdict.recommended
    targets = rule_set.questions["deployment_targets"]
    reasons = [
        Reason(rule_id=r.rule.id, framework=framework, points=points, why=r.rule.why,
               sources=list(r.rule.sources), as_of=r.rule.as_of.isoformat(),
               evidence=bool(r.condition.measures), group=r.rule.group)
        for r in fired
        for framework, points in r.rule.points.items()
    ]
    reasons.sort(key=lambda r: (-r.points, r.framework != recommended, r.rule_id))
    toolchain = choose_toolchain(rule_set, answers)
    evidence = None
    if probe_run is not None:
        evidence = build_evidence(rule_set, answers, probe_run, probe_run_id, probe_run_chosen)
    also = [AlsoConsider(option=a.rule.option, why=a.rule.why, sources=list(a.rule.sources),
                         as_of=a.rule.as_of.isoformat())
            for a in rule_set.also_consider if a.condition.predicate(answers.plain, None)]
    return Recommendation(
        recommended=recommended,
        decided_by=verdict.decided_by,
        summary=summary(verdict, [c.rule for c in constraints],
                        {v: targets.label_of(v) for v in targets.values}, raw, rule_set.policy,
                        answers.plain.get("deployment_targets") or ()),
        scores=verdict.scores,
        confidence=verdict.confidence,
        groups=group_scores(rule_set, raw),
        constraints=[
            Constraint(rule_id=c.rule.id, target=c.rule.target,
                       target_label=targets.label_of(c.rule.target), framework=c.rule.framework,
                       level=c.rule.level, why=c.rule.why, sources=list(c.rule.sources),
                       as_of=c.rule.as_of.isoformat())
            for c in constraints
        ],
        reasons=reasons,
        toolchain=toolchain,
        caveats=choose_caveats(rule_set, answers, toolchain[recommended]),
        also_consider=also,
        flips=find_flips(rule_set, answers, lookup, fired, verdict),
        evidence=evidence,
        provisional=provisional,
        rules_version=rule_set.version,
    )
