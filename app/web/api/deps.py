"""FastAPI dependencies: the service context and per-client rate limits."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from app.settings import Settings
from app.storage.probe_runs import LeasePolicy
from app.web.context import ServiceContext
from app.web.security import RateLimiterUnavailable, client_address


async def get_context(request: Request) -> ServiceContext:
    # async: a plain attribute read must not cost a trip through the thread pool
    return request.app.state.context


ContextDep = Annotated[ServiceContext, Depends(get_context)]


def check_rate(context: ServiceContext, request: Request, bucket: str) -> float | None:
    """Count one hit; return None when allowed, else seconds to wait. 503 when the shared
    store is down. May block on Redis: call it from a worker thread."""
    try:
        return context.limiter.check(
            bucket, client_address(request, context.settings.trust_forwarded_for))
    except RateLimiterUnavailable:
        raise HTTPException(503, "the rate-limit store is unavailable; try again shortly",
                            headers={"Retry-After": "5"}) from None


def rate_limited(bucket: str):  # noqa: ANN201 - returns a FastAPI dependency
    """Return a dependency that answers 429 with Retry-After when a client is over its limit."""

    def check(request: Request, context: ContextDep) -> None:
        # sync: FastAPI runs it in the thread pool, so a Redis round trip never blocks the loop
        wait = check_rate(context, request, bucket)
        if wait is not None:
            raise HTTPException(429, f"too many requests; try again in {wait:.0f} s",
                                headers={"Retry-After": str(max(1, round(wait)))})

    return Depends(check)


def lease_policy(settings: Settings) -> LeasePolicy:
    return LeasePolicy(lease_s=settings.agent_lease_s, max_attempts=settings.probe_max_attempts)
