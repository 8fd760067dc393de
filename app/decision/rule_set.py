"""Loading the rule set (rules/*.yaml): scoring rules, toolchain rules, tool statuses,
claims and policy, each checked on load. Every problem names file, rule id and field."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from app.decision.conditions import CompiledCondition, ConditionError, Predicate, compile_condition
from app.decision.errors import Problem, RulesError
from app.decision.measures import Measure, parse_measure
from app.decision.questionnaire import Question, Questionnaire

SHIPPED_RULES_DIR = Path(__file__).resolve().parents[2] / "rules"
FRAMEWORKS = ("pytorch", "tensorflow")
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


class Rule(Sourced):
    id: str = Field(pattern=KEBAB)
    when: Any
    points: dict[Literal["pytorch", "tensorflow"], int] = Field(min_length=1)

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
    tool: str = Field(min_length=1, max_length=120)
    when: Any = None


class ToolStatus(Sourced):
    tool: str = Field(min_length=1, max_length=120)
    status: Literal["deprecated", "archived", "renamed", "maintenance", "beta"]
    when: Any = None


class Claim(Sourced):
    id: str = Field(pattern=KEBAB)
    claim: str = Field(min_length=5)
    measured: Any
    holds_when: dict[Literal["lt", "lte", "gt", "gte"], float] = Field(min_length=1)
    per_model: bool = True


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    points_scale: dict[int, str]
    tie_break: Literal["pytorch", "tensorflow"]
    tie_break_why: str
    confidence: str
    stages: tuple[str, ...]
    probe_model_for_family: dict[str, Literal["mlp", "cnn", "transformer"]]


@dataclass(frozen=True)
class LoadedRule:
    rule: Rule
    condition: CompiledCondition
    source_file: str


@dataclass(frozen=True)
class LoadedToolchainRule:
    rule: ToolchainRule
    condition: CompiledCondition | None


@dataclass(frozen=True)
class LoadedToolStatus:
    status: ToolStatus
    condition: CompiledCondition | None


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
    version: str

    @cached_property
    def questions(self) -> dict[str, Question]:
        return self.questionnaire.by_id()

    @cached_property
    def predicates(self) -> list[tuple[LoadedRule, Predicate]]:
        """Return (rule, predicate) pairs, prepared once for the scoring loop."""
        return [(r, r.condition.predicate) for r in self.rules]

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
        condition = None
        if trule.when is not None:
            condition = _condition(problems, path, where, trule.when, questions)
            if condition is None:
                continue
        toolchain.append(LoadedToolchainRule(trule, condition))

    tools: list[LoadedToolStatus] = []
    path = root / "tools.yaml"
    for where, entry in _entries(problems, path, read("tools.yaml"), "tools"):
        status = _validated(problems, path, where, entry, ToolStatus)
        if status is None:
            continue
        condition = None
        if status.when is not None:
            condition = _condition(problems, path, f"tool {status.tool}", status.when, questions)
            if condition is None:
                continue
        tools.append(LoadedToolStatus(status, condition))

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

    if problems.problems:
        raise RulesError(problems.problems)
    files = ["questionnaire.yaml", "policy.yaml", "toolchains.yaml", "tools.yaml", "claims.yaml"]
    files += [str(p.relative_to(root)) for p in rule_files]
    return RuleSet(
        directory=root,
        questionnaire=questionnaire,
        policy=policy,
        rules=rules,
        toolchain=toolchain,
        tools=tools,
        claims=claims,
        version=_content_hash(root, files),
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
