"""Machines: the probe agents, their environment, status and runs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.web import machines
from app.web.api.deps import ContextDep
from app.web.api.schemas import errors

router = APIRouter(prefix="/api/v1/machines", tags=["machines"])


@router.get("", summary="Every agent: labels, environment, last seen, status, recent runs")
def list_machines(context: ContextDep) -> list[dict[str, Any]]:
    return machines.list_machines(context)


@router.get("/{name}", responses=errors(404),
            summary="One agent with its run history and flagged regressions/improvements")
def machine(name: str, context: ContextDep) -> dict[str, Any]:
    return machines.machine_history(context, name)
