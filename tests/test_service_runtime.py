"""The service as it runs: a real server restarted, probe jobs executed by the worker,
interrupted runs, and several server processes sharing one PostgreSQL queue."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from app.settings import Settings
from app.storage import probe_runs
from app.storage.database import make_engine, migrate, session_factory
from tests.conftest import EXAMPLES

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(database_url: str, port: int, **settings: str) -> subprocess.Popen:
    env = {**os.environ, "ADVISOR_DATABASE_URL": database_url,
           **{f"ADVISOR_{k.upper()}": v for k, v in settings.items()}}
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"server did not start: {proc.stdout.read().decode()[-2000:]}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_reports_survive_a_server_restart(database_url):
    port = free_port()
    answers = yaml.safe_load(EXAMPLES[0].read_text())
    server = start_server(database_url, port)
    try:
        created = httpx.post(f"http://127.0.0.1:{port}/api/v1/reports",
                             json={"answers": answers}).json()
        before = httpx.get(f"http://127.0.0.1:{port}/api/v1/reports/{created['id']}").json()
    finally:
        stop(server)
    server = start_server(database_url, port)
    try:
        after = httpx.get(f"http://127.0.0.1:{port}/api/v1/reports/{created['id']}")
        assert after.status_code == 200 and after.json() == before
        page = httpx.get(f"http://127.0.0.1:{port}/r/{created['id']}")
        assert page.status_code == 200
    finally:
        stop(server)


def test_a_run_left_running_by_a_dead_server_is_marked_interrupted_on_start(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    sessions = session_factory(engine)
    row = probe_runs.enqueue(sessions, models=["mlp"], frameworks=["tensorflow"], mode="quick")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    owner = f"{socket.gethostname()}|{dead.pid}|0.000"  # that process is gone
    claimed = probe_runs.claim(sessions, probe_runs.Claimant("server", (), owner),
                               probe_runs.LeasePolicy(lease_s=600, max_attempts=1))
    assert claimed.id == row.id
    engine.dispose()
    from fastapi.testclient import TestClient

    from app.web.main import create_app

    # One attempt allowed: the dead owner's job is interrupted rather than queued again.
    app = create_app(Settings(database_url=database_url, rate_limit_enabled=False,
                              probe_max_attempts=1))
    with TestClient(app) as client:
        run = client.get(f"/api/v1/probe-runs/{row.id}").json()
        assert run["status"] == "interrupted"
        assert "stopped" in run["error"]


@pytest.mark.probes
def test_the_worker_runs_a_queued_probe_run_with_live_progress(database_url):
    from fastapi.testclient import TestClient

    from app.web.main import create_app

    app = create_app(Settings(database_url=database_url, rate_limit_enabled=False))
    seen = set()
    with TestClient(app) as client:
        run = client.post("/api/v1/probe-runs", json={
            "models": ["mlp"], "frameworks": ["tensorflow"], "mode": "quick"}).json()
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            status = client.get(f"/api/v1/probe-runs/{run['id']}").json()
            seen.add(status["status"])
            if status["status"] == "running" and status["progress"]["total"]:
                seen.add(status["progress"]["current"])
            if status["status"] not in ("queued", "running"):
                break
            time.sleep(0.3)
        assert status["status"] == "succeeded", status
        assert status["progress"]["done"] == status["progress"]["total"] == 6
        assert "running" in seen
        assert any(str(s).startswith("tensorflow/mlp/") for s in seen)
        document = status["results"]
        assert document["schema"] == "framework-advisor/probe-run@1"
        rec = client.post("/api/v1/recommendations", json={
            "answers": yaml.safe_load(EXAMPLES[0].read_text())}).json()
        assert rec["evidence"]["probe_run_id"] == run["id"] and rec["evidence"]["chosen"] == "latest"


WORKER_SCRIPT = """
import sys, time
from app.web.probe_worker import ProbeWorker
from app.storage.database import make_engine, session_factory
worker = ProbeWorker(session_factory(make_engine(sys.argv[1])), timeout_s=300, poll_s=0.2)
worker.start()
time.sleep(float(sys.argv[2]))
worker.stop()
"""


@pytest.mark.probes
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_server_processes_sharing_postgresql_never_run_two_probe_jobs_at_once(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    sessions = session_factory(engine)
    # Reduced sampling ("test" mode) keeps three real runs short.
    queued = [probe_runs.enqueue(sessions, models=["mlp"], frameworks=["tensorflow"],
                                 mode="test").id for _ in range(3)]
    workers = [subprocess.Popen([sys.executable, "-c", WORKER_SCRIPT, database_url, "150"],
                                cwd=ROOT) for _ in range(3)]
    try:
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            rows = [probe_runs.get_run(sessions, i) for i in queued]
            running = [r for r in rows if r.status == "running"]
            assert len(running) <= 1, "two probe runs ran at once"
            if all(r.status not in ("queued", "running") for r in rows):
                break
            time.sleep(0.2)
    finally:
        for proc in workers:
            proc.terminate()
        for proc in workers:
            proc.wait(30)
    rows = [probe_runs.get_run(sessions, i) for i in queued]
    assert [r.status for r in rows] == ["succeeded"] * 3
    intervals = sorted((r.started_at, r.finished_at) for r in rows)
    for (_, end), (start, _) in zip(intervals, intervals[1:], strict=False):
        assert start >= end, "runs overlapped"
    for row in rows:
        assert row.document["status"] == "succeeded"
        assert any(m["metric"] == "latency_ms_b1" for m in row.document["measurements"])
    engine.dispose()
