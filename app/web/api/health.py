"""GET /healthz: the service answers and its database is reachable."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from app.web.api.deps import ContextDep
from app.web.api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness and database check")
def healthz(context: ContextDep) -> Health:
    with context.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    return Health(status="ok", rules_version=context.rule_set.version, database="ok")


@router.get("/api/v1/ping", summary="A trivial JSON endpoint (the load benchmark's baseline)")
async def ping() -> dict[str, str]:
    return {"status": "ok"}
