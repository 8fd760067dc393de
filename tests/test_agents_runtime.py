"""Agents as they run: a real server on PostgreSQL and two `advisor agent` processes with
different labels, running real (reduced, "test" mode) probe jobs over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from app.storage import probe_runs
from app.storage.database import make_engine, migrate, session_factory
from tests.test_service_runtime import ROOT, free_port, start_server, stop

pytestmark = pytest.mark.probes
LEASE_S = "4"


def advisor(database_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ADVISOR_DATABASE_URL": database_url}
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def start_agent(port: int, token: str, *labels: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "app.cli", "agent", "--server", f"http://127.0.0.1:{port}",
               "--wait", "2", "--heartbeat", "1"]
    for label in labels:
        command += ["--label", label]
    env = {**os.environ, "ADVISOR_AGENT_TOKEN": token}
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)


def wait_for(sessions, run_ids: list[str], timeout: float = 240, watch=None) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = [probe_runs.get_run(sessions, i) for i in run_ids]
        if watch:
            watch(rows)
        if all(r.status not in probe_runs.ACTIVE for r in rows):
            return rows
        time.sleep(0.2)
    raise AssertionError(f"runs did not finish: {[(r.id, r.status) for r in rows]}")


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_agents_route_compare_report_survive_a_kill_and_a_revoked_agent_stops(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    sessions = session_factory(engine)
    tokens = {}
    for name, labels in (("edge", ["edge_linux", "cpu"]), ("cloud", ["cloud_server", "cpu"])):
        added = advisor(database_url, "agents", "add", name, *[f"--label={x}" for x in labels])
        assert added.returncode == 0, added.stderr
        tokens[name] = added.stdout.strip().splitlines()[-1]
    port = free_port()
    server = start_server(database_url, port, agent_lease_s=LEASE_S, probe_max_attempts="3")
    procs = {"edge": start_agent(port, tokens["edge"]), "cloud": start_agent(port, tokens["cloud"])}
    try:
        # Routed by name and by label (reduced sampling keeps real runs short).
        by_name = probe_runs.enqueue(sessions, models=["mlp"], frameworks=["tensorflow"],
                                     mode="test", machine={"name": "edge"})
        by_label = probe_runs.enqueue(sessions, models=["mlp"], frameworks=["tensorflow"],
                                      mode="test", machine={"labels": ["cloud_server"]})
        first, second = wait_for(sessions, [by_name.id, by_label.id])
        assert (first.status, first.agent_name) == ("succeeded", "edge")
        assert (second.status, second.agent_name) == ("succeeded", "cloud")
        machines = {m["name"]: m for m in httpx.get(f"http://127.0.0.1:{port}/api/v1/machines"
                                                    ).json()}
        assert machines["edge"]["environment"]["cores"] >= 1
        assert machines["cloud"]["recent_runs"][0]["id"] == by_label.id

        # Compare the two real runs.
        compared = httpx.get(f"http://127.0.0.1:{port}/api/v1/probe-runs/compare",
                             params={"a": by_name.id, "b": by_label.id}).json()
        latency = [m for m in compared["metrics"] if m["metric"] == "latency_ms_b1"]
        assert latency and all(m["verdict"] in ("faster", "slower", "tie", "inconclusive")
                               for m in latency)

        # A report citing both machines' runs shows both.
        from tests.conftest import base_answers

        answers = {**base_answers(), "deployment_targets": ["cloud_server", "edge_linux"]}
        created = httpx.post(f"http://127.0.0.1:{port}/api/v1/reports", json={
            "answers": answers, "probe_run_ids": [by_name.id, by_label.id]})
        assert created.status_code == 201, created.text
        report = httpx.get(f"http://127.0.0.1:{port}/api/v1/reports/{created.json()['id']}"
                           ).json()
        stands = {m["machine"]: m["stands_for"] for m in report["machine_evidence"]}
        assert stands == {"edge": ["edge_linux"], "cloud": ["cloud_server"]}
        page = httpx.get(f"http://127.0.0.1:{port}/r/{report['id']}").text
        assert 'href="/machines/edge"' in page and 'href="/machines/cloud"' in page

        # Either agent may take this one; the first to take it is killed mid-run.
        shared = probe_runs.enqueue(sessions, models=["mlp"], frameworks=["tensorflow"],
                                    mode="test", machine={"labels": ["cpu"]})
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            row = probe_runs.get_run(sessions, shared.id)
            if row.status == "running" and (row.progress or {}).get("total"):
                break
            time.sleep(0.1)
        victim = row.agent_name
        survivor = "cloud" if victim == "edge" else "edge"
        procs[victim].send_signal(signal.SIGKILL)
        procs[victim].wait(10)

        def at_most_one_holder(rows):
            assert sum(r.status == "running" for r in rows) <= 1

        (done,) = wait_for(sessions, [shared.id], watch=at_most_one_holder)
        assert done.status == "succeeded" and done.agent_name == survivor
        log = done.attempt_log
        assert [e["agent"] for e in log] == [victim, survivor]
        assert log[0]["outcome"] == "lease expired" and log[1]["outcome"] == "succeeded"
        # The survivor started only after the victim's lease had been given up.
        assert log[1]["started_at"] >= log[0]["ended_at"]

        # A revoked agent is refused at its next request and stops (exit 3).
        assert advisor(database_url, "agents", "revoke", survivor).returncode == 0
        assert procs[survivor].wait(30) == 3
        output = procs[survivor].stdout.read().decode()
        assert "403" in output and "revoked" in output
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()
                proc.wait(30)
        stop(server)
        engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_agent_waits_out_a_server_restart_and_goes_on_taking_jobs(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    sessions = session_factory(engine)
    added = advisor(database_url, "agents", "add", "laptop", "--label", "cpu")
    token = added.stdout.strip().splitlines()[-1]
    port = free_port()
    server = start_server(database_url, port)
    agent = start_agent(port, token)
    try:
        time.sleep(2)
        stop(server)
        time.sleep(4)  # the agent's claims fail meanwhile; it backs off and retries
        server = start_server(database_url, port)
        job = probe_runs.enqueue(sessions, models=["mlp"], frameworks=["tensorflow"], mode="test",
                                 machine={"name": "laptop"})
        (done,) = wait_for(sessions, [job.id])
        assert (done.status, done.agent_name) == ("succeeded", "laptop")
    finally:
        agent.terminate()
        agent.wait(30)
        stop(server)
        engine.dispose()
    assert "retrying" in agent.stdout.read().decode()
