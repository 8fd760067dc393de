"""The Recommendation (spec §4): what scoring returns and every output format renders."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Framework = Literal["pytorch", "tensorflow"]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Reason(_Out):
    rule_id: str
    framework: Framework
    points: int = Field(description="the rule's points before its group's cap")
    why: str
    sources: list[str]
    as_of: str
    evidence: bool = Field(False, description="true when the rule is conditioned on probe numbers")
    group: str = Field(description="the factor group whose cap the points share")
    machine: str | None = Field(None, description=(
        "for a measured reason of a report citing several runs: the machine whose numbers "
        "decided it (an imported run is named by its id)"))


class GroupScore(_Out):
    group: str
    label: str
    pytorch: int = Field(description="PyTorch's points in this group after the cap")
    tensorflow: int = Field(description="TensorFlow's points in this group after the cap")
    cap: int
    raw: dict[str, int] = Field(description="each framework's points before the cap")


class Constraint(_Out):
    rule_id: str
    target: str
    target_label: str
    framework: Framework
    level: Literal["blocking", "caution"]
    why: str
    sources: list[str]
    as_of: str


class AlsoConsider(_Out):
    option: str
    why: str
    sources: list[str]
    as_of: str


class ToolchainStep(_Out):
    stage: str
    tool: str
    why: str
    rule_id: str
    sources: list[str]
    target: str | None = Field(description="the deployment target the step serves; null: the whole project")
    maturity: Literal["native", "converted", "beta", "none"]


class Caveat(_Out):
    tool: str
    status: str
    why: str
    migration: str = Field(description="what to move to, for the user's targets")
    sources: list[str]
    as_of: str
    in_use: bool = Field(description="true when the team uses the tool today (current_stack)")


class Flip(_Out):
    question: str
    answer: Any = Field(description="the whole changed answer; null means left unanswered")
    change: str = Field(description="the change in words, e.g. 'add mobile_android'")
    text: str = Field(description="the change as a sentence in the questionnaire's labels")
    recommended: Framework
    decided_by: Literal["score", "tie_break", "constraint"]
    scores: dict[str, int]


ClaimOutcome = Literal["holds", "does_not_hold", "inconclusive", "not_measured"]


class ClaimModelVerdict(_Out):
    model: str | None
    verdict: ClaimOutcome = Field(description="from the 95% interval against the threshold")
    value: float | None = Field(description="ratio of medians")
    ci95: list[float] | None = None
    detail: str


class ClaimVerdict(_Out):
    id: str
    claim: str
    measured: str
    threshold: str
    verdict: ClaimOutcome
    per_model: list[ClaimModelVerdict]
    why: str
    sources: list[str]
    scope: str = Field("", description="which models it was checked on, in words: the workloads "
                                       "it is about, or only the smoke set")


class Highlight(_Out):
    id: str
    text: str
    value: float | None = None
    unit: str | None = None


class SetAside(_Out):
    what: str
    why: str


class Evidence(_Out):
    probe_run_id: str | None
    chosen: str = Field(description="how the probe run was chosen: 'requested' or 'latest'")
    environment: dict[str, Any]
    highlights: list[Highlight]
    claims: list[ClaimVerdict]
    workload: dict[str, Any] = Field(default_factory=dict, description=(
        "the probe model whose numbers speak for the user's model family: model, family, "
        "proxy, smoke_only, text"))
    contended: bool = Field(False, description="other processes used a meaningful share of the CPU")
    set_aside: list[SetAside] = Field(default_factory=list, description=(
        "measured comparisons the advice took no points from, and why"))
    notes: list[str] = Field(default_factory=list, description=(
        "plain-word caveats: smoke set only, contended, noisy, inconclusive, one round"))


class Recommendation(_Out):
    recommended: Framework
    decided_by: Literal["score", "tie_break", "constraint"] = Field(
        description="how the verdict was reached: more points, the policy's tie-break, or a "
                    "blocking constraint on the other framework")
    summary: str = Field(description="the verdict and how it was reached, in one or two sentences")
    scores: dict[str, int] = Field(description="each framework's points after group caps")
    confidence: float = Field(ge=0.5, le=1.0)
    groups: list[GroupScore]
    constraints: list[Constraint]
    reasons: list[Reason]
    toolchain: dict[str, list[ToolchainStep]]
    caveats: list[Caveat]
    also_consider: list[AlsoConsider]
    flips: list[Flip]
    evidence: Evidence | None
    provisional: bool = Field(False, description="true while a cited probe run is still queued or running")
    rules_version: str


def recommendation_from_snapshot(data: dict[str, Any]) -> Recommendation:
    """Return a stored recommendation, upgrading snapshots made before the grouped model.

    Reports are immutable: one stored by an earlier version lacks the fields added since
    (decided_by, groups, constraints, also_consider, toolchain target and maturity, ...).
    Those are filled with what the old snapshot implies — never recomputed under today's
    rules — so every stored report stays readable.
    """
    if "decided_by" in data:
        return Recommendation.model_validate(data)
    old = dict(data)
    scores = old.get("scores", {})
    tie = scores.get("pytorch") == scores.get("tensorflow")
    old.update(decided_by="tie_break" if tie else "score",
               summary="Made before factor groups and constraints were reported; scores are "
                       "plain sums of rule points.",
               groups=[], constraints=[], also_consider=[], provisional=False)
    old["reasons"] = [{**r, "group": r.get("group", "ungrouped")} for r in old.get("reasons", [])]
    old["toolchain"] = {f: [{**s, "target": s.get("target"), "maturity": s.get("maturity", "native")}
                            for s in steps] for f, steps in old.get("toolchain", {}).items()}
    old["caveats"] = [{**c, "migration": c.get("migration", "See the sources."),
                       "in_use": c.get("in_use", False)} for c in old.get("caveats", [])]
    old["flips"] = [{**f, "text": f.get("text", f"{f.get('question')}: {f.get('change')}"),
                     "decided_by": f.get("decided_by", "score")} for f in old.get("flips", [])]
    return Recommendation.model_validate(old)
