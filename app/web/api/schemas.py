"""Request and response bodies of the REST API (spec §4, §6). Validation lives here and
shows in OpenAPI; answers are checked against the questionnaire by the service."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.decision.questionnaire import STORABLE_TEXT_PATTERN, unstorable_text
from app.decision.recommendation import Recommendation

# The smoke set and the representative workloads (probes/plan.py MODELS, spec §5).
ModelName = Literal["mlp", "cnn", "transformer", "tabular", "recommender", "vision", "encoder",
                    "decoder"]
FrameworkName = Literal["pytorch", "tensorflow"]
# A run measures at most three models: a full run of three workloads stays within ~15
# minutes on 2 cores (README, Probe time budgets); more is another run.
MAX_MODELS_PER_RUN = 3


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RecommendationRequest(_In):
    answers: dict[str, Any] = Field(
        description="Question id -> answer; see GET /api/v1/questionnaire. Checked against the "
                    "questionnaire: every problem is reported at once with a 422.")
    probe_run_id: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="Probe run to use as evidence; by default the latest successful local run.")
    probe_run_ids: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]] | None = Field(
        None, min_length=1, max_length=8,
        description="Several finished probe runs, e.g. one per machine. Each measure is read "
                    "from the run of a machine labelled with one of the answers' deployment "
                    "targets (the first such target that measured it), else from the first "
                    "cited run; measured reasons name their machine, and a report shows every "
                    "machine's evidence. probe_run_id, when also given, is cited first.")


class ReportCreate(RecommendationRequest):
    title: str | None = Field(None, max_length=120, description="Shown at the top of the report.",
                              json_schema_extra={"pattern": STORABLE_TEXT_PATTERN})

    @field_validator("title")
    @classmethod
    def _storable(cls, title: str | None) -> str | None:
        problem = unstorable_text(title) if title is not None else None
        if problem:
            raise ValueError(problem)
        return title

    # For reports, probe_run_id may name a queued or running run: the report is made at once
    # from the rules, and its evidence is filled in when the run finishes.


class ReportCreated(BaseModel):
    id: str
    url: str = Field(description="Permalink of the report page, /r/{id}")
    delete_token: str = Field(description="Shown once: DELETE /api/v1/reports/{id} with "
                                          "Authorization: Bearer <delete_token>")
    recommendation: Recommendation


class AnswerLabel(BaseModel):
    question: str
    label: str
    answer: Any
    answer_label: str


class ReportPublic(BaseModel):
    id: str
    title: str | None
    created_at: dt.datetime
    url: str
    json_url: str
    markdown_url: str
    answers: dict[str, Any]
    answer_labels: list[AnswerLabel]
    rules_version: str
    probe_run_id: str | None
    pending_probe_run: bool = Field(
        False, description="True while the cited probe run is still going; the evidence is "
                           "filled in once, when it finishes")
    probe_run_ids: list[str] = Field(
        default_factory=list, description="Every probe run the report cites")
    machine_evidence: list[dict[str, Any]] = Field(
        default_factory=list, description="Per cited run: probe_run_id, machine, labels, "
        "stands_for (deployment targets), used_for_scoring, evidence")
    recommendation: Recommendation


class MachineLabels(_In):
    labels: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        min_length=1, max_length=32, description="Every label must be on the agent")


AgentName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]


class ProbeRunCreate(_In):
    models: list[ModelName] = Field(default_factory=lambda: ["mlp", "cnn", "transformer"],
                                    min_length=1, max_length=MAX_MODELS_PER_RUN)
    frameworks: list[FrameworkName] = Field(default_factory=lambda: ["pytorch", "tensorflow"],
                                            min_length=1, max_length=2)
    mode: Literal["quick", "full"] = "quick"
    machine: AgentName | MachineLabels | None = Field(
        None, description="Where to run: an agent's name, or {\"labels\": [...]} for any agent "
                          "carrying all of them; by default the server's own agent")


class ProbeProgress(BaseModel):
    total: int
    done: int
    current: str


class ProbeRunPublic(BaseModel):
    id: str
    status: Literal["queued", "running", "succeeded", "partial", "failed", "interrupted"]
    source: Literal["local", "imported"]
    mode: str
    models: list[str]
    frameworks: list[str]
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    progress: ProbeProgress | None
    queued_ahead: int | None = Field(None, description="Runs that execute before this one")
    error: str | None
    machine: dict[str, Any] | None = Field(
        None, description="Routing: {\"name\": agent} or {\"labels\": [...]}")
    agent: str | None = Field(None, description="The agent that runs or ran it")
    attempts: int = Field(0, description="Times it was leased to an agent")
    results: dict[str, Any] | None = Field(
        None, description="The framework-advisor/probe-run@1 document, once finished")


class ErrorBody(BaseModel):
    detail: str


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorBody(BaseModel):
    detail: list[ValidationIssue]


class Health(BaseModel):
    status: Literal["ok"]
    rules_version: str
    database: Literal["ok"]


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The body could not be read (not UTF-8 JSON)"},
    404: {"model": ErrorBody, "description": "Not found (unknown and malformed ids alike)"},
    409: {"model": ErrorBody, "description": "The cited probe run has no results yet"},
    413: {"model": ErrorBody, "description": "Request body larger than the limit"},
    422: {"model": ValidationErrorBody, "description": "Input does not fit; every problem named"},
    429: {"model": ErrorBody, "description": "Too many requests from this client; see Retry-After"},
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """Return the OpenAPI error responses an operation can give."""
    return {code: ERRORS[code] for code in codes}
