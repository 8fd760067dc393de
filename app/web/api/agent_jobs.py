"""The agents' side of the probe queue: claim a job (long poll), heartbeat, hand back results.

Every call carries `Authorization: Bearer <token>` from `advisor agents add`: an unknown
token gets 401, a revoked one 403, checked against the database on every call so that a
revocation takes effect at once. An agent sees only the jobs it holds: another agent's job
answers 404, a lease that has expired (the job may be running elsewhere now) 409.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from app.decision.probe_document import ProbeRunDocument
from app.storage import agents, probe_runs
from app.storage.tables import AgentRow
from app.web.api.deps import ContextDep, lease_policy
from app.web.api.schemas import errors

router = APIRouter(prefix="/api/v1/agent", tags=["probe agents"])
CLAIM_RETRY_S = 0.5  # how often a waiting claim looks at the queue again


async def current_agent(request: Request, context: ContextDep) -> AgentRow:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(401, "an agent token is required: Authorization: Bearer <token>",
                            headers={"WWW-Authenticate": "Bearer"})
    found = await run_in_threadpool(agents.authenticate, context.sessions, token.strip())
    if found.outcome == "revoked":
        raise HTTPException(403, "this agent has been revoked")
    if found.outcome != "ok" or found.agent is None:
        raise HTTPException(401, "unknown agent token", headers={"WWW-Authenticate": "Bearer"})
    return found.agent


AgentDep = Annotated[AgentRow, Depends(current_agent)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClaimRequest(_In):
    environment: dict[str, Any] | None = Field(
        None, description="The agent's environment fingerprint (CPU, OS, framework versions)")
    labels: list[Annotated[str, Field(pattern=agents.LABEL_PATTERN.pattern)]] | None = Field(
        None, max_length=agents.MAX_LABELS,
        description="Labels the agent was started with; replace the enrolled ones when given")
    wait_s: float = Field(0.0, ge=0, le=120, description="Long poll: wait this long for a job")


class JobOffer(BaseModel):
    id: str
    lease_id: str
    models: list[str]
    frameworks: list[str]
    mode: str
    lease_s: float


class HeartbeatRequest(_In):
    lease_id: str = Field(max_length=64)
    progress: dict[str, Any] | None = None


class ResultRequest(_In):
    lease_id: str = Field(max_length=64)
    status: Literal["succeeded", "partial", "failed", "interrupted"]
    document: ProbeRunDocument | None = None
    error: str | None = Field(None, max_length=4000)


AUTH_ERRORS = {401: {"description": "Unknown or missing agent token"},
               403: {"description": "The agent has been revoked"}}


@router.post("/jobs/claim", response_model=JobOffer, summary="Lease the next job (long poll)",
             responses={204: {"description": "No job within wait_s"}, **AUTH_ERRORS,
                        **errors(400, 413, 422)})
async def claim(body: ClaimRequest, agent: AgentDep, context: ContextDep) -> Any:
    labels = list(dict.fromkeys(body.labels)) if body.labels else None  # checked by the schema
    await run_in_threadpool(agents.seen, context.sessions, agent.name, body.environment, labels)
    claimant = probe_runs.Claimant(agent.name, tuple(labels or agent.labels), f"agent:{agent.name}")
    policy = lease_policy(context.settings)
    deadline = time.monotonic() + min(body.wait_s, context.settings.agent_long_poll_s)
    while True:
        row = await run_in_threadpool(probe_runs.claim, context.sessions, claimant, policy)
        if row is not None:
            return JobOffer(id=row.id, lease_id=row.lease_id, models=row.models,
                            frameworks=row.frameworks, mode=row.mode, lease_s=policy.lease_s)
        if time.monotonic() + CLAIM_RETRY_S > deadline:
            return Response(status_code=204)
        await asyncio.sleep(CLAIM_RETRY_S)


async def _held(context: ContextDep, agent: AgentRow, run_id: str) -> None:
    """404 unless the run exists and this agent holds or held it."""
    row = await run_in_threadpool(probe_runs.get_run, context.sessions, run_id)
    if row is None or row.agent_name != agent.name:
        raise HTTPException(404, "no such job for this agent")


@router.post("/jobs/{run_id}/heartbeat", status_code=204, summary="Extend the lease, report progress",
             responses={**AUTH_ERRORS, **errors(400, 404, 409, 413, 422)})
async def heartbeat(run_id: str, body: HeartbeatRequest, agent: AgentDep, context: ContextDep
                    ) -> Response:
    held = await run_in_threadpool(probe_runs.heartbeat, context.sessions, run_id, agent.name,
                                   body.lease_id, body.progress, context.settings.agent_lease_s)
    if not held:
        await _held(context, agent, run_id)
        raise HTTPException(409, "this lease is no longer held: stop the run")
    return Response(status_code=204)


@router.post("/jobs/{run_id}/result", status_code=204, summary="Hand back the probe document",
             responses={**AUTH_ERRORS, **errors(400, 404, 409, 413, 422)})
async def result(run_id: str, body: ResultRequest, agent: AgentDep, context: ContextDep
                 ) -> Response:
    if body.document is not None and body.status != "interrupted" \
            and body.document.status != body.status:
        raise HTTPException(422, f"status {body.status!r} differs from the document's "
                                 f"{body.document.status!r}")
    if body.document is None and body.status in ("succeeded", "partial"):
        raise HTTPException(422, f"status {body.status!r} needs a document")
    document = body.document.to_json() if body.document is not None else None
    stored = await run_in_threadpool(probe_runs.finish, context.sessions, run_id, agent.name,
                                     body.lease_id, body.status, document, body.error)
    if not stored:
        await _held(context, agent, run_id)
        raise HTTPException(409, "this lease is no longer held: the result was not stored")
    return Response(status_code=204)
