"""Loading the rule set (rules/*.yaml): scoring rules, toolchain rules, tool statuses,
claims and policy, each checked on load. Every problem names file, rule id and field."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from app.decision.conditions import (
    CompiledCondition,
    ConditionError,
    Predicate,
    Selector,
    compile_condition,
    compile_selector,
)
from app.decision.errors import Problem, RulesError
from app.decision.measures import EvidencePolicy, Measure, WorkloadChoice, parse_measure
from app.decision.probe_document import ModelName
from app.decision.questionnaire import Question, Questionnaire

SHIPPED_RULES_DIR = Path(__file__).resolve().parents[2] / "rules"
FRAMEWORKS = ("pytorch", "tensorflow")
# Up to this many scoring rules, one generated function tests them all (a few microseconds
# for the shipped set); beyond it the guard index skips those that cannot hold
# (`advisor bench scoring` measures 10,000).
MAX_RULES_FOR_ONE_SELECTOR = 400
KEBAB = r"^[a-z0-9]+(-[a-z0-9]+)*$"


class Sourced(BaseModel):
    """Fields every piece of domain knowledge carries: a reason, sources and a date."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    why: str = Field(min_length=10, max_length=600)
    sources: tuple[str, ...] = Field(min_length=1)
    as_of: dt.date

    @field_validator("sources")
    @classmethod
    def _non_blank(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not s.strip() for s in value):
            raise ValueError("sources must not be blank")
        return value


Maturity = Literal["native", "converted", "beta", "none"]
Level = Literal["blocking", "caution"]


class Rule(Sourced):
    id: str = Field(pattern=KEBAB)
    when: Any
    points: dict[Literal["pytorch", "tensorflow"], int] = Field(min_length=1)
    # The factor group the rule belongs to (rules/policy.yaml `groups`): overlapping rules in
    # one group share that group's cap instead of stacking.
    group: str

    @field_validator("points")
    @classmethod
    def _on_scale(cls, value: dict[str, int]) -> dict[str, int]:
        for framework, points in value.items():
            if not 1 <= points <= 5:
                raise ValueError(f"{framework}: points must be 1 to 5 (see rules/policy.yaml)")
        return value


class ToolchainRule(Sourced):
    id: str = Field(pattern=KEBAB)
    framework: Literal["pytorch", "tensorflow"]
    stage: str
    tool: str = Field(min_length=1, max_length=160)
    # The deployment target the step serves (a deployment_targets value), or null for the
    # whole project; how mature the path from this framework is.
    target: str | None = None
    maturity: Maturity
    when: Any = None


class ConstraintRule(Sourced):
    """A framework with no maintained production path (blocking) or only a fragile one
    (caution) to one of the user's targets."""

    id: str = Field(pattern=KEBAB)
    target: str
    framework: Literal["pytorch", "tensorflow"]
    level: Level
    when: Any
    # Toolchain rules whose `none` maturity this constraint stands for.
    toolchain: tuple[str, ...] = ()
    # True when it holds only because a question was left unanswered and read as its usual
    # answer: a verdict it decides is then at most `confidence.assumption_max`.
    assumption: bool = False


class AlsoConsider(Sourced):
    """An honest pointer beyond the two frameworks (JAX, Keras 3, a neutral runtime)."""

    id: str = Field(pattern=KEBAB)
    option: str = Field(min_length=2, max_length=80)
    when: Any


class ToolStatus(Sourced):
    tool: str = Field(min_length=1, max_length=120)
    status: Literal["deprecated", "archived", "renamed", "maintenance", "beta"]
    # The current_stack answer that means "we use this today", if the questionnaire has one.
    stack_value: str | None = None
    # What to move to, right for the targets where the tool is used.
    migration: str = Field(min_length=10, max_length=600)


class Claim(Sourced):
    id: str = Field(pattern=KEBAB)
    claim: str = Field(min_length=5)
    measured: Any
    holds_when: dict[Literal["lt", "lte", "gt", "gte"], float] = Field(min_length=1, max_length=1)
    per_model: bool = True
    # Evidence (issue 10): the representative workloads a claim is about, and the smoke-set
    # models it falls back to (and says so) when none of them was measured.
    workloads: tuple[ModelName, ...] = ()
    smoke: tuple[ModelName, ...] = ("mlp", "cnn", "transformer")


class Group(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    label: str
    cap: int = Field(ge=1, le=20)
    why: str = Field(min_length=10)


class ConfidencePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    explain: str
    # A margin of this many points (after caps) counts as decisive on its own.
    decisive_margin: float = Field(gt=0)
    # Points added to those in play, so that a lone point is not "all the evidence".
    prior_points: float = Field(ge=0)
    # What a group leading by a single point (a slight edge) counts towards decisiveness.
    slight_edge_weight: float = Field(ge=0, le=1)
    # Confidence of a verdict decided by a blocking constraint on the other framework.
    constraint: float = Field(ge=0.5, le=1.0)
    # Subtracted for each caution constraint on the recommended framework.
    caution_penalty: float = Field(ge=0.0, le=0.5)
    # The most confidence a verdict can have when both frameworks are blocked somewhere.
    both_blocked_max: float = Field(ge=0.5, le=1.0)
    # The most confidence a verdict decided only by constraints that rest on an assumption
    # (an unanswered question read as its usual answer) can have.
    assumption_max: float = Field(ge=0.5, le=1.0)
    # At or below this a verdict is close, and its summary says it is a lean.
    close_max: float = Field(ge=0.5, le=1.0)


class FlipPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    why: str
    # Questions whose answer a team cannot plausibly change for this decision.
    fixed: tuple[str, ...] = ()
    # Multi questions where only dropping a chosen value is a plausible change.
    only_remove: tuple[str, ...] = ()
    # Questions whose answer is offered as a change only while unanswered (hardware the team
    # has named is part of the project; for unnamed hardware, what would change the verdict).
    only_when_unanswered: tuple[str, ...] = ()
    # Question -> a condition on the answers under which changing that question is not a
    # plausible change (e.g. fine-tuning billion-parameter models for a tabular model).
    not_offered_when: dict[str, Any] = Field(default_factory=dict)
    # Whether "leave the question unanswered" is offered as a change.
    offer_unanswered: bool = False


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    points_scale: dict[int, str]
    groups: dict[str, Group] = Field(min_length=1)
    tie_break: Literal["pytorch", "tensorflow"]
    tie_break_why: str
    confidence: ConfidencePolicy
    flips: FlipPolicy
    stages: tuple[str, ...]
    # Evidence (issue 10): family -> workload map (with proxies and smoke fallbacks, key
    # "default" for an unanswered family) and when measured numbers may score.
    probe_model_for_family: dict[str, WorkloadChoice]
    evidence: EvidencePolicy

    @cached_property
    def caps(self) -> dict[str, int]:
        """Each group's cap, by group id (read on every score)."""
        return {group_id: group.cap for group_id, group in self.groups.items()}


@dataclass(frozen=True)
class LoadedRule:
    rule: Rule
    condition: CompiledCondition
    source_file: str
    # (group, PyTorch's points, TensorFlow's points): what scoring adds up on every request
    tally: tuple[str, int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        points = self.rule.points
        object.__setattr__(self, "tally", (self.rule.group, points.get("pytorch", 0),
                                           points.get("tensorflow", 0)))


@dataclass(frozen=True)
class LoadedToolchainRule:
    rule: ToolchainRule
    condition: CompiledCondition | None


@dataclass(frozen=True)
class LoadedToolStatus:
    status: ToolStatus


@dataclass(frozen=True)
class LoadedConstraint:
    rule: ConstraintRule
    condition: CompiledCondition


@dataclass(frozen=True)
class LoadedAlsoConsider:
    rule: AlsoConsider
    condition: CompiledCondition


@dataclass(frozen=True)
class LoadedClaim:
    claim: Claim
    measure: Measure


@dataclass
class RuleSet:
    """Everything scoring needs, checked and compiled."""

    directory: Path
    questionnaire: Questionnaire
    policy: Policy
    rules: list[LoadedRule]
    toolchain: list[LoadedToolchainRule]
    tools: list[LoadedToolStatus]
    claims: list[LoadedClaim]
    constraints: list[LoadedConstraint]
    also_consider: list[LoadedAlsoConsider]
    version: str
    # Question -> compiled `flips.not_offered_when` condition.
    flip_exclusions: dict[str, CompiledCondition] = field(default_factory=dict)
    # Data other modules derive from the rules once (flips' per-question index, scoring's
    # ready-made output parts), kept here so it lives and dies with the rule set.
    derived: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @cached_property
    def questions(self) -> dict[str, Question]:
        return self.questionnaire.by_id()

    @cached_property
    def predicates(self) -> list[tuple[LoadedRule, Predicate]]:
        """Return (rule, predicate) pairs, prepared once for the scoring loop."""
        return [(r, r.condition.predicate) for r in self.rules]

    @cached_property
    def fired_selector(self) -> Selector | None:
        """Return one function that tells which rules hold, for a rule set small enough that
        testing every rule in one call is cheaper than the guard index; None otherwise."""
        if len(self.rules) > MAX_RULES_FOR_ONE_SELECTOR:
            return None
        return compile_selector([r.condition for r in self.rules], "fired_rules")

    @cached_property
    def guard_index(self) -> GuardIndex:
        """Return the index that skips rules whose necessary answer cannot be there."""
        return GuardIndex.build(self)

    @cached_property
    def rules_by_question(self) -> dict[str, list[int]]:
        """Return, per question id, the indexes of the scoring rules that read it."""
        index: dict[str, list[int]] = {}
        for i, loaded in enumerate(self.rules):
            for qid in loaded.condition.questions:
                index.setdefault(qid, []).append(i)
        return index

    @cached_property
    def constraint_questions(self) -> set[str]:
        """Return the question ids any constraint reads (flips re-check constraints on them)."""
        return {qid for c in self.constraints for qid in c.condition.questions}

    @cached_property
    def thresholds(self) -> dict[str, set[float]]:
        """Return, per number question, every threshold a scoring rule compares it with."""
        out: dict[str, set[float]] = {}
        for loaded in self.rules:
            for qid, values in loaded.condition.thresholds.items():
                out.setdefault(qid, set()).update(values)
        return out


@dataclass
class GuardIndex:
    """Rules bucketed by one answer they cannot fire without (their *guard*).

    A rule whose condition is, or starts with under `all`, an equals / one_of / contains
    test on a choice question can only fire when the answers hold one of the guard's
    values; scoring looks up those buckets instead of evaluating every rule. Rules without
    such a test are always evaluated. With 10,000 rules this keeps scoring in budget."""

    buckets: dict[tuple[str, Any], list[int]]
    unguarded: list[int]
    questions: tuple[str, ...]

    @classmethod
    def build(cls, rule_set: RuleSet) -> GuardIndex:
        buckets: dict[tuple[str, Any], list[int]] = {}
        unguarded: list[int] = []
        for index, loaded in enumerate(rule_set.rules):
            guard = _guard(loaded.rule.when)
            if guard is None:
                unguarded.append(index)
                continue
            qid, values = guard
            for value in values:
                buckets.setdefault((qid, value), []).append(index)
        questions = tuple(sorted({qid for qid, _ in buckets}))
        return cls(buckets, unguarded, questions)

    def candidates(self, answers: Mapping[str, Any]) -> list[int]:
        """Return, in rule-set order, the indexes of rules that may fire for these answers."""
        found = list(self.unguarded)
        for qid in self.questions:
            value = answers.get(qid)
            if value is None:
                continue
            for item in value if isinstance(value, tuple) else (value,):
                found.extend(self.buckets.get((qid, item), ()))
        return sorted(set(found))


def _guard(when: Any) -> tuple[str, tuple[Any, ...]] | None:
    """Return (question, values) that the condition needs one of, if it states one plainly."""
    parts = when["all"] if isinstance(when, Mapping) and "all" in when else [when]
    for part in parts:
        if not isinstance(part, Mapping) or "question" not in part:
            continue
        if "equals" in part:
            return part["question"], (part["equals"],)
        for key in ("one_of", "contains_any"):
            if key in part:
                return part["question"], tuple(part[key])
        if "contains" in part:
            return part["question"], (part["contains"],)
        if "contains_all" in part:
            return part["question"], (part["contains_all"][0],)
    return None


class _Collector:
    def __init__(self, root: Path):
        self.root = root
        self.problems: list[Problem] = []

    def add(self, file: Path, where: str, message: str) -> None:
        self.problems.append(Problem(f"{file.relative_to(self.root)}: {where}", message))

    def pydantic(self, file: Path, where: str, exc: ValidationError) -> None:
        for error in exc.errors():
            loc = ".".join(str(p) for p in error["loc"]) or "(entry)"
            self.add(file, f"{where} field {loc}", error["msg"])


def load_rule_set(directory: Path | None = None) -> RuleSet:
    """Return the checked rule set from a directory, or raise RulesError listing all problems."""
    root = (directory or SHIPPED_RULES_DIR).resolve()
    problems = _Collector(root)
    if not root.is_dir():
        raise RulesError([Problem(str(root), "rules directory does not exist")])

    def read(name: str) -> Any:
        path = root / name
        if not path.is_file():
            problems.add(path, "file", "missing")
            return None
        try:
            with path.open(encoding="utf-8") as handle:
                return yaml.safe_load(handle)
        except yaml.YAMLError as exc:
            problems.add(path, "YAML", str(exc).replace("\n", " "))
            return None

    questionnaire: Questionnaire | None = None
    raw_questionnaire = read("questionnaire.yaml")
    if raw_questionnaire is not None:
        try:
            questionnaire = Questionnaire.model_validate(raw_questionnaire)
        except ValidationError as exc:
            problems.pydantic(root / "questionnaire.yaml", "questionnaire", exc)
    policy: Policy | None = None
    raw_policy = read("policy.yaml")
    if raw_policy is not None:
        try:
            policy = Policy.model_validate(raw_policy)
        except ValidationError as exc:
            problems.pydantic(root / "policy.yaml", "policy", exc)
    if questionnaire is None or policy is None:
        raise RulesError(problems.problems)
    questions = questionnaire.by_id()
    targets = questions["deployment_targets"].values if "deployment_targets" in questions else ()

    rules: list[LoadedRule] = []
    seen_ids: dict[str, str] = {}
    rule_files = sorted((root / "scoring").glob("*.yaml"))
    if not rule_files:
        problems.add(root / "scoring", "directory", "no rule files (*.yaml) found")
    for path in rule_files:
        for where, entry in _entries(problems, path, read(str(path.relative_to(root))), "rules"):
            rule = _validated(problems, path, where, entry, Rule)
            if rule is None:
                continue
            where = f"rule {rule.id}"
            if not _claim_id(problems, seen_ids, path, where, rule.id):
                continue
            if rule.group not in policy.groups:
                problems.add(path, f"{where} field group",
                             f"unknown group {rule.group!r}; expected one of {', '.join(policy.groups)}")
                continue
            condition = _condition(problems, path, where, rule.when, questions)
            if condition is not None:
                rules.append(LoadedRule(rule, condition, str(path.relative_to(root))))

    toolchain: list[LoadedToolchainRule] = []
    path = root / "toolchains.yaml"
    for where, entry in _entries(problems, path, read("toolchains.yaml"), "toolchain"):
        trule = _validated(problems, path, where, entry, ToolchainRule)
        if trule is None:
            continue
        where = f"toolchain rule {trule.id}"
        if not _claim_id(problems, seen_ids, path, where, trule.id):
            continue
        if trule.stage not in policy.stages:
            problems.add(path, f"{where} field stage",
                         f"unknown stage {trule.stage!r}; expected one of {', '.join(policy.stages)}")
            continue
        if trule.target is not None and trule.target not in targets:
            problems.add(path, f"{where} field target",
                         f"unknown target {trule.target!r}; expected one of {', '.join(targets)}")
            continue
        condition = None
        if trule.when is not None:
            condition = _condition(problems, path, where, trule.when, questions)
            if condition is None:
                continue
        toolchain.append(LoadedToolchainRule(trule, condition))

    tools: list[LoadedToolStatus] = []
    path = root / "tools.yaml"
    stack = questions.get("current_stack")
    for where, entry in _entries(problems, path, read("tools.yaml"), "tools"):
        status = _validated(problems, path, where, entry, ToolStatus)
        if status is None:
            continue
        if status.stack_value is not None and (stack is None or status.stack_value not in stack.values):
            problems.add(path, f"tool {status.tool} field stack_value",
                         f"{status.stack_value!r} is not a current_stack option")
            continue
        tools.append(LoadedToolStatus(status))

    constraints: list[LoadedConstraint] = []
    path = root / "constraints.yaml"
    toolchain_ids = {t.rule.id: t.rule for t in toolchain}
    covered: set[str] = set()
    for where, entry in _entries(problems, path, read("constraints.yaml"), "constraints"):
        crule = _validated(problems, path, where, entry, ConstraintRule)
        if crule is None:
            continue
        where = f"constraint {crule.id}"
        if not _claim_id(problems, seen_ids, path, where, crule.id):
            continue
        if crule.target not in targets:
            problems.add(path, f"{where} field target",
                         f"unknown target {crule.target!r}; expected one of {', '.join(targets)}")
            continue
        for tid in crule.toolchain:
            step = toolchain_ids.get(tid)
            if step is None or step.framework != crule.framework or step.target != crule.target:
                problems.add(path, f"{where} field toolchain",
                             f"{tid!r} is not a {crule.framework} toolchain rule for {crule.target}")
            covered.add(tid)
        condition = _condition(problems, path, where, crule.when, questions)
        if condition is not None:
            constraints.append(LoadedConstraint(crule, condition))
    # The verdict is checked against its own toolchain: a path that says "none" must be
    # stated as a constraint, or the report could recommend a framework that cannot ship.
    for tid, step in toolchain_ids.items():
        if step.maturity == "none" and tid not in covered:
            problems.add(root / "toolchains.yaml", f"toolchain rule {tid} field maturity",
                         "maturity none needs a constraint in constraints.yaml naming this rule")

    also: list[LoadedAlsoConsider] = []
    path = root / "also_consider.yaml"
    for where, entry in _entries(problems, path, read("also_consider.yaml"), "also_consider"):
        arule = _validated(problems, path, where, entry, AlsoConsider)
        if arule is None:
            continue
        where = f"also_consider {arule.id}"
        if not _claim_id(problems, seen_ids, path, where, arule.id):
            continue
        condition = _condition(problems, path, where, arule.when, questions)
        if condition is not None:
            also.append(LoadedAlsoConsider(arule, condition))

    claims: list[LoadedClaim] = []
    path = root / "claims.yaml"
    for where, entry in _entries(problems, path, read("claims.yaml"), "claims"):
        claim = _validated(problems, path, where, entry, Claim)
        if claim is None:
            continue
        where = f"claim {claim.id}"
        if not _claim_id(problems, seen_ids, path, where, claim.id):
            continue
        try:
            claims.append(LoadedClaim(claim, parse_measure(claim.measured)))
        except ValueError as exc:
            problems.add(path, f"{where} field measured", str(exc))

    flip_exclusions: dict[str, CompiledCondition] = {}
    for qid, raw in policy.flips.not_offered_when.items():
        where = f"flips.not_offered_when {qid}"
        if qid not in questions:
            problems.add(root / "policy.yaml", where, f"unknown question {qid!r}")
            continue
        compiled = _condition(problems, root / "policy.yaml", where, raw, questions)
        if compiled is not None:
            flip_exclusions[qid] = compiled

    if problems.problems:
        raise RulesError(problems.problems)
    files = ["questionnaire.yaml", "policy.yaml", "toolchains.yaml", "tools.yaml", "claims.yaml",
             "constraints.yaml", "also_consider.yaml"]
    files += [str(p.relative_to(root)) for p in rule_files]
    return RuleSet(
        directory=root,
        questionnaire=questionnaire,
        policy=policy,
        rules=rules,
        toolchain=toolchain,
        tools=tools,
        claims=claims,
        constraints=constraints,
        also_consider=also,
        version=_content_hash(root, files),
        flip_exclusions=flip_exclusions,
    )


def _claim_id(problems: _Collector, seen: dict[str, str], path: Path, where: str, item_id: str
              ) -> bool:
    """Record an id as taken by this file; False (and a problem) if another entry has it."""
    if item_id in seen:
        problems.add(path, f"{where} field id", f"duplicate id, also in {seen[item_id]}")
        return False
    seen[item_id] = str(path.relative_to(problems.root))
    return True


def _content_hash(root: Path, files: list[str]) -> str:
    """Return a short hash of every rule file's name and bytes: the rules_version."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + (root / name).read_bytes() + b"\0")
    return "sha256:" + digest.hexdigest()[:16]


def _entries(problems: _Collector, path: Path, data: Any, key: str) -> list[tuple[str, Any]]:
    if data is None:
        return []
    if not isinstance(data, Mapping) or not isinstance(data.get(key), list):
        problems.add(path, "file", f"expected a mapping with a list under {key!r}")
        return []
    out = []
    for index, entry in enumerate(data[key]):
        label = entry.get("id") or entry.get("tool") if isinstance(entry, Mapping) else None
        out.append((f"{key}[{index}]" + (f" ({label})" if label else ""), entry))
    return out


def _validated(problems: _Collector, path: Path, where: str, entry: Any, model: type) -> Any:
    try:
        return model.model_validate(entry)
    except ValidationError as exc:
        if isinstance(entry, Mapping) and "id" in entry:
            where = f"rule {entry['id']}"
        problems.pydantic(path, where, exc)
        return None


def _condition(
    problems: _Collector, path: Path, where: str, raw: Any, questions: Mapping[str, Question]
) -> CompiledCondition | None:
    try:
        return compile_condition(raw, questions)
    except ConditionError as exc:
        text = str(exc)
        field_path, _, message = text.partition(": ")
        problems.add(path, f"{where} field {field_path}", message)
        return None
