"""`advisor bench agents`: one real server process on PostgreSQL and many fake agents that
only lease jobs and heartbeat (no probes run). Each fake agent, in a closed loop: claim a
job (timed: lease latency), send heartbeats back to back (timed), hand back a `failed`
result, claim again. Prints lease and heartbeat latency percentiles and the heartbeats per
second the server held. The fake agents share one asyncio process (httpx), so on a small
machine the load generator competes with the server for the CPU: read the numbers as a
floor, and say whether the machine was busy."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

from app.bench.harness import free_port, wait_ready

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
HEARTBEATS_PER_LEASE = 10
LABEL = "bench-fake"


@contextmanager
def _database(url: str | None) -> Iterator[str]:
    if url is not None:
        yield url
        return
    from sqlalchemy import create_engine, text

    name = f"advisor_bench_{secrets.token_hex(6)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


async def _fake_agent(base: str, token: str, until: float, leases: list[float],
                      beats: list[float], errors: list[str]) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        while time.monotonic() < until:
            t0 = time.perf_counter()
            response = await client.post("/api/v1/agent/jobs/claim", json={"wait_s": 0})
            if response.status_code == 204:
                await asyncio.sleep(0.05)  # the queue ran dry; the load tool refills it
                continue
            if response.status_code != 200:
                errors.append(f"claim {response.status_code}")
                continue
            leases.append(time.perf_counter() - t0)
            job = response.json()
            for _ in range(HEARTBEATS_PER_LEASE):
                t0 = time.perf_counter()
                beat = await client.post(f"/api/v1/agent/jobs/{job['id']}/heartbeat", json={
                    "lease_id": job["lease_id"],
                    "progress": {"total": 10, "done": 1, "current": "bench"}})
                if beat.status_code != 204:
                    errors.append(f"heartbeat {beat.status_code}")
                    break
                beats.append(time.perf_counter() - t0)
            await client.post(f"/api/v1/agent/jobs/{job['id']}/result", json={
                "lease_id": job["lease_id"], "status": "failed", "error": "benchmark job"})


def _refill(sessions, jobs: int) -> None:
    from app.storage import probe_runs

    queued = probe_runs.count_queued(sessions)
    for _ in range(max(0, jobs - queued)):
        probe_runs.enqueue(sessions, models=["mlp"], frameworks=["tensorflow"], mode="test",
                           machine={"labels": [LABEL]})


async def _drive(base: str, tokens: list[str], seconds: float, sessions, jobs: int
                 ) -> tuple[list[float], list[float], list[str], float]:
    leases: list[float] = []
    beats: list[float] = []
    errors: list[str] = []
    started = time.monotonic()
    until = started + seconds
    agents = [asyncio.create_task(_fake_agent(base, t, until, leases, beats, errors))
              for t in tokens]
    while time.monotonic() < until:
        await asyncio.to_thread(_refill, sessions, jobs)
        await asyncio.sleep(1.0)
    await asyncio.gather(*agents)
    return leases, beats, errors, time.monotonic() - started


def run_agents_benchmark(console: Console, *, agents: int, seconds: float, jobs: int,
                         database_url: str | None) -> None:
    from app.storage import agents as agent_store
    from app.storage.database import make_engine, migrate, session_factory

    with _database(database_url) as url:
        engine = make_engine(url)
        migrate(engine)
        sessions = session_factory(engine)
        tokens = [agent_store.create(sessions, f"fake-{i:03d}", [LABEL])[1] for i in range(agents)]
        _refill(sessions, jobs)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {**os.environ, "ADVISOR_DATABASE_URL": url, "ADVISOR_RATE_LIMIT_ENABLED": "false"}
        server = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_ready(base)
            leases, beats, errors, elapsed = asyncio.run(
                _drive(base, tokens, seconds, sessions, jobs))
        finally:
            server.terminate()
            server.wait(20)
            engine.dispose()
    _print(console, agents, elapsed, leases, beats, errors)


def _print(console: Console, agents: int, elapsed: float, leases: list[float],
           beats: list[float], errors: list[str]) -> None:
    table = Table(title=f"{agents} fake agents, one server process, PostgreSQL, "
                        f"{elapsed:.0f} s (load generator on the same machine)")
    for column in ("operation", "count", "per second", "p50 ms", "p99 ms", "max ms"):
        table.add_column(column, justify="right" if column != "operation" else "left")
    for name, values in (("lease (claim)", leases), ("heartbeat", beats)):
        if not values:
            table.add_row(name, "0", "—", "—", "—", "—")
            continue
        ms = np.asarray(values) * 1000
        table.add_row(name, str(len(values)), f"{len(values) / elapsed:.0f}",
                      f"{np.percentile(ms, 50):.1f}", f"{np.percentile(ms, 99):.1f}",
                      f"{ms.max():.1f}")
    console.print(table)
    console.print(f"errors: {len(errors)}" + (f" (first: {errors[0]})" if errors else ""),
                  highlight=False)
