"""score_answers: validated answers (and optionally probe numbers) -> Recommendation.

The path reads top to bottom: fire the rules, sum points per factor group under each
group's cap, check the constraints (a framework with no production path to a target the
user needs), decide, then attach the toolchain per target, caveats, pointers beyond the two
frameworks, the single-answer changes that would flip the verdict, and measured evidence.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from app.decision.conditions import Selector, compile_selector
from app.decision.evidence import build_evidence, measure_lookup
from app.decision.flips import find_flips, prepare_flips
from app.decision.machine_evidence import (
    CitedRun,
    answered_targets,
    fired_on_each_machine,
    machine_name,
    runs_in_preference,
)
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
from app.decision.recommendation_json import shared_json
from app.decision.rule_set import FRAMEWORKS, LoadedRule, RuleSet
from app.decision.verdict import GroupPoints, capped_scores, decide, group_points, summary

MAX_SHARED_GROUP_SCORES = 4096
_PARTS_LOCK = threading.Lock()


@dataclass(frozen=True)
class _OutputParts:
    """The output objects that depend on one rule alone, built once per rule set: scoring
    picks them instead of building (and validating) them on every request."""

    reasons: dict[int, tuple[Reason, ...]]  # id(rule) -> one Reason per framework it scores
    # (framework, step), ordered by stage (stable: rule-set order within one), and the one
    # function that tells which of them the answers call for
    steps: tuple[tuple[str, ToolchainStep], ...]
    steps_for: Selector
    constraints_holding: Selector  # positions in rule_set.constraints
    also_for: Selector  # positions in rule_set.also_consider
    # id(step) -> indexes in rule_set.tools whose tool the step names (they earn a caveat)
    named_tools: dict[int, tuple[int, ...]]
    target_labels: dict[str, str]  # deployment target -> its label
    caveats: dict[tuple[int, bool], Caveat]  # (index in rule_set.tools, in use) -> caveat
    also: tuple[AlsoConsider, ...]  # parallel to rule_set.also_consider
    constraints: dict[int, Constraint]  # id(constraint) -> its output


def _parts(rule_set: RuleSet) -> _OutputParts:
    found = rule_set.derived.get("scoring")
    if found is not None:
        return found
    targets = rule_set.questions["deployment_targets"]
    stage_order = {stage: i for i, stage in enumerate(rule_set.policy.stages)}
    steps = sorted(((t.rule.framework, t.condition,
                     ToolchainStep(stage=t.rule.stage, tool=t.rule.tool, why=t.rule.why,
                                   rule_id=t.rule.id, sources=list(t.rule.sources),
                                   target=t.rule.target, maturity=t.rule.maturity))
                    for t in rule_set.toolchain), key=lambda s: stage_order[s[2].stage])
    parts = _OutputParts(
        reasons={id(r): tuple(
            Reason(rule_id=r.rule.id, framework=framework, points=points, why=r.rule.why,
                   sources=list(r.rule.sources), as_of=r.rule.as_of.isoformat(),
                   evidence=bool(r.condition.measures), group=r.rule.group)
            for framework, points in r.rule.points.items()) for r in rule_set.rules},
        steps=tuple((framework, step) for framework, _, step in steps),
        steps_for=compile_selector([condition for _, condition, _ in steps], "toolchain"),
        constraints_holding=compile_selector([c.condition for c in rule_set.constraints],
                                             "constraints"),
        also_for=compile_selector([a.condition for a in rule_set.also_consider], "also_consider"),
        named_tools={id(step): tuple(i for i, t in enumerate(rule_set.tools)
                                     if t.status.tool in step.tool) for _, _, step in steps},
        target_labels={v: targets.label_of(v) for v in targets.values},
        caveats={(i, in_use): Caveat(tool=t.status.tool, status=t.status.status, why=t.status.why,
                                     migration=t.status.migration, sources=list(t.status.sources),
                                     as_of=t.status.as_of.isoformat(), in_use=in_use)
                 for i, t in enumerate(rule_set.tools) for in_use in (False, True)},
        also=tuple(AlsoConsider(option=a.rule.option, why=a.rule.why, sources=list(a.rule.sources),
                                as_of=a.rule.as_of.isoformat()) for a in rule_set.also_consider),
        constraints={id(c): Constraint(
            rule_id=c.rule.id, target=c.rule.target, target_label=targets.label_of(c.rule.target),
            framework=c.rule.framework, level=c.rule.level, why=c.rule.why,
            sources=list(c.rule.sources), as_of=c.rule.as_of.isoformat())
            for c in rule_set.constraints},
    )
    # The event loop and worker threads may race to build them: every caller must get the
    # one stored first (steps are looked up by identity), so the first stored wins.
    with _PARTS_LOCK:
        found = rule_set.derived.get("scoring")
        if found is not None:
            return found
        shared = shared_json(rule_set.derived)
        for made in (*(r for reasons in parts.reasons.values() for r in reasons),
                     *(step for _, step in parts.steps), *parts.caveats.values(), *parts.also,
                     *parts.constraints.values()):
            shared.add(made)
        rule_set.derived["scoring"] = parts
    return parts


def prepare(rule_set: RuleSet) -> None:
    """Build now what every scoring of this rule set shares (compiled selectors, output
    parts, the flips' per-question tables), so no request pays for it."""
    _parts(rule_set)
    prepare_flips(rule_set)


def fired_rules(rule_set: RuleSet, answers: Answers, lookup: MeasureLookup | None
                ) -> list[LoadedRule]:
    """Return the scoring rules whose condition holds, in rule-set order."""
    plain = answers.plain
    selector = rule_set.fired_selector
    if selector is not None:
        rules = rule_set.rules
        return [rules[position] for position in selector(plain, lookup)]
    predicates = rule_set.predicates
    fired = []
    for index in rule_set.guard_index.candidates(plain):
        loaded, holds = predicates[index]
        if holds(plain, lookup):
            fired.append(loaded)
    return fired


def constraint_holds(rule_set: RuleSet, plain: dict) -> list[bool]:
    """Return whether each constraint of the rule set holds, in rule-set order."""
    holds = [False] * len(rule_set.constraints)
    for position in _parts(rule_set).constraints_holding(plain, None):
        holds[position] = True
    return holds


def group_scores(rule_set: RuleSet, raw: GroupPoints) -> list[GroupScore]:
    """Return points per factor group, before and after its cap, in policy order."""
    # A group's score is a pure function of its raw points, and the sums the rules can make
    # are few: the objects are shared (they are frozen), up to a bound set by the rule set.
    made: dict[tuple[str, int, int], GroupScore] = rule_set.derived.setdefault("group_scores", {})
    out = []
    for group_id, group in rule_set.policy.groups.items():
        points = raw.get(group_id)
        if not points:
            continue
        p, t = points["pytorch"], points["tensorflow"]
        if not (p or t):
            continue
        found = made.get((group_id, p, t))
        if found is None:
            found = GroupScore(group=group_id, label=group.label, cap=group.cap,
                               raw={"pytorch": p, "tensorflow": t},
                               pytorch=min(p, group.cap), tensorflow=min(t, group.cap))
            if len(made) < MAX_SHARED_GROUP_SCORES:
                made[group_id, p, t] = found
                shared_json(rule_set.derived).add(found)
        out.append(found)
    return out


def choose_toolchain(rule_set: RuleSet, answers: Answers) -> dict[str, list[ToolchainStep]]:
    """Return the concrete tools per framework, stage and target for these answers."""
    chosen: dict[str, list[ToolchainStep]] = {f: [] for f in FRAMEWORKS}
    parts = _parts(rule_set)
    steps = parts.steps
    for position in parts.steps_for(answers.plain, None):  # already in stage order
        framework, step = steps[position]
        chosen[framework].append(step)
    return chosen


def choose_caveats(rule_set: RuleSet, answers: Answers, recommended_steps: list[ToolchainStep]
                   ) -> list[Caveat]:
    """Return caveats for tools the team runs today or the recommended stack names."""
    in_stack = answers.plain.get("current_stack") or ()
    parts = _parts(rule_set)
    named = {i for step in recommended_steps for i in parts.named_tools[id(step)]}
    caveats = []
    for i, loaded in enumerate(rule_set.tools):
        stack_value = loaded.status.stack_value
        in_use = stack_value is not None and stack_value in in_stack
        if in_use or i in named:
            caveats.append(parts.caveats[i, in_use])
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
    runs: Sequence[CitedRun] = (),
) -> Recommendation:
    """Return the Recommendation for validated answers, with evidence when a probe run is
    given. With `runs` (several machines), measured rules are judged on the runs that stand
    for the user's targets (app/decision/machine_evidence.py) and the evidence block is the
    first consulted run's."""
    lookup = measure_lookup(probe_run, rule_set)  # evidence gate: app/decision/evidence.py
    more_lookups: list[MeasureLookup] = []
    machines: dict[str, str] = {}
    if runs:
        consulted = runs_in_preference(answered_targets(answers), runs)
        lookups = [(machine_name(run), measure_lookup(run.document, rule_set)) for run in consulted]
        fired, machines = fired_on_each_machine(rule_set, answers, lookups)
        probe_run, probe_run_id = consulted[0].document, consulted[0].probe_run_id
        lookup, more_lookups = lookups[0][1], [found for _, found in lookups[1:]]
    else:
        fired = fired_rules(rule_set, answers, lookup)
    raw = group_points(fired)
    scores = capped_scores(rule_set.policy, raw)
    holds = constraint_holds(rule_set, answers.plain)
    constraints = [c for c, held in zip(rule_set.constraints, holds, strict=True) if held]
    verdict = decide(rule_set.policy, scores, [c.rule for c in constraints], raw,
                     answers.plain.get("deployment_targets") or ())
    recommended = verdict.recommended
    parts = _parts(rule_set)
    reasons = [reason for r in fired for reason in parts.reasons[id(r)]]
    if machines:
        reasons = [reason.model_copy(update={"machine": machines[reason.rule_id]})
                   if reason.rule_id in machines else reason for reason in reasons]
    reasons.sort(key=lambda r: (-r.points, r.framework != recommended, r.rule_id))
    toolchain = choose_toolchain(rule_set, answers)
    evidence = None
    if probe_run is not None:
        evidence = build_evidence(rule_set, answers, probe_run, probe_run_id, probe_run_chosen)
    also = [parts.also[position] for position in parts.also_for(answers.plain, None)]
    return Recommendation(
        recommended=recommended,
        decided_by=verdict.decided_by,
        summary=summary(verdict, [c.rule for c in constraints], parts.target_labels, raw,
                        rule_set.policy,
                        answers.plain.get("deployment_targets") or ()),
        scores=verdict.scores,
        confidence=verdict.confidence,
        groups=group_scores(rule_set, raw),
        constraints=[parts.constraints[id(c)] for c in constraints],
        reasons=reasons,
        toolchain=toolchain,
        caveats=choose_caveats(rule_set, answers, toolchain[recommended]),
        also_consider=also,
        flips=find_flips(rule_set, answers, lookup, fired, verdict, more_lookups, raw, holds),
        evidence=evidence,
        provisional=provisional,
        rules_version=rule_set.version,
    )
