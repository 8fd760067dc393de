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
    points: int
    why: str
    sources: list[str]
    as_of: str
    evidence: bool = Field(False, description="true when the rule is conditioned on probe numbers")


class ToolchainStep(_Out):
    stage: str
    tool: str
    why: str
    rule_id: str
    sources: list[str]


class Caveat(_Out):
    tool: str
    status: str
    why: str
    sources: list[str]
    as_of: str


class Flip(_Out):
    question: str
    answer: Any = Field(description="the whole changed answer; null means left unanswered")
    change: str = Field(description="the change in words, e.g. 'add mobile_android'")
    recommended: Framework
    scores: dict[str, int]


class ClaimModelVerdict(_Out):
    model: str | None
    verdict: Literal["holds", "does_not_hold", "not_measured"]
    value: float | None
    detail: str


class ClaimVerdict(_Out):
    id: str
    claim: str
    measured: str
    threshold: str
    verdict: Literal["holds", "does_not_hold", "mixed", "not_measured"]
    per_model: list[ClaimModelVerdict]
    why: str
    sources: list[str]


class Highlight(_Out):
    id: str
    text: str
    value: float | None = None
    unit: str | None = None


class Evidence(_Out):
    probe_run_id: str | None
    chosen: str = Field(description="how the probe run was chosen: 'requested' or 'latest'")
    environment: dict[str, Any]
    highlights: list[Highlight]
    claims: list[ClaimVerdict]


class Recommendation(_Out):
    recommended: Framework
    scores: dict[str, int]
    confidence: float = Field(ge=0.5, le=1.0)
    reasons: list[Reason]
    toolchain: dict[str, list[ToolchainStep]]
    caveats: list[Caveat]
    flips: list[Flip]
    evidence: Evidence | None
    rules_version: str
