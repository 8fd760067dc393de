"""Probe agents and their leased jobs, through storage and the HTTP API (no probes run):
tokens, routing, leases that expire, one job per agent, agents seeing only their own jobs,
the machines list and run comparisons."""

from __future__ import annotations

import copy
import datetime as dt
import json
import threading
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import update

from app.decision.run_comparison import compare_runs
from app.storage import agents, probe_runs
from app.storage.database import make_engine, migrate, session_factory
from app.storage.tables import ProbeRunRow

RECORDED = Path(__file__).resolve().parent / "data" / "probe-run-recorded.json"
POLICY = probe_runs.LeasePolicy(lease_s=60, max_attempts=2)


@pytest.fixture
def sessions(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()


def claimant(name: str, *labels: str) -> probe_runs.Claimant:
    return probe_runs.Claimant(name, labels, f"agent:{name}")


def enqueue(sessions, machine=None):
    return probe_runs.enqueue(sessions, models=["mlp"], frameworks=["tensorflow"], mode="test",
                              machine=machine)


def expire_lease(sessions, run_id: str) -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    with sessions.begin() as session:
        session.execute(update(ProbeRunRow).where(ProbeRunRow.id == run_id)
                        .values(lease_expires_at=past))


# --- tokens -----------------------------------------------------------------------------

def test_a_token_is_stored_only_as_a_hash_and_authenticates_its_agent(sessions):
    row, token = agents.create(sessions, "jetson-1", ["edge_linux", "arm64"])
    stored = agents.by_name(sessions, "jetson-1")
    assert token not in json.dumps({"hash": stored.token_hash}) and len(stored.token_hash) == 64
    found = agents.authenticate(sessions, token)
    assert found.outcome == "ok" and found.agent.name == "jetson-1"
    assert agents.authenticate(sessions, token[:-2] + "xx").outcome == "unknown"
    assert agents.authenticate(sessions, "not-a-token").outcome == "unknown"


def test_a_revoked_agent_is_refused_at_once(sessions):
    _, token = agents.create(sessions, "laptop", [])
    assert agents.revoke(sessions, "laptop")
    assert agents.authenticate(sessions, token).outcome == "revoked"
    assert not agents.revoke(sessions, "no-such-agent")


def test_names_and_labels_are_checked_and_names_are_unique(sessions):
    agents.create(sessions, "gpu-box", [])
    with pytest.raises(agents.AgentError, match="already exists"):
        agents.create(sessions, "gpu-box", [])
    with pytest.raises(agents.AgentError, match="agent name"):
        agents.create(sessions, "Bad Name", [])
    with pytest.raises(agents.AgentError, match="label"):
        agents.create(sessions, "ok", ["has space"])


# --- routing and leases -------------------------------------------------------------------

def test_jobs_go_to_the_named_agent_or_to_one_carrying_every_label(sessions):
    by_name = enqueue(sessions, {"name": "cloud"})
    by_labels = enqueue(sessions, {"labels": ["arm64", "edge_linux"]})
    edge = claimant("edge", "edge_linux")  # lacks arm64
    assert probe_runs.claim(sessions, edge, POLICY) is None
    jetson = claimant("jetson", "edge_linux", "arm64", "gpu")
    assert probe_runs.claim(sessions, jetson, POLICY).id == by_labels.id
    cloud = claimant("cloud")
    assert probe_runs.claim(sessions, cloud, POLICY).id == by_name.id


def test_an_agent_runs_one_job_at_a_time(sessions):
    first, second = enqueue(sessions), enqueue(sessions)
    me = claimant("box")
    held = probe_runs.claim(sessions, me, POLICY)
    assert held.id == first.id
    assert probe_runs.claim(sessions, me, POLICY) is None
    assert probe_runs.claim(sessions, claimant("other"), POLICY).id == second.id


def test_an_expired_lease_requeues_the_job_then_interrupts_it_after_the_attempt_limit(sessions):
    job = enqueue(sessions)
    first = probe_runs.claim(sessions, claimant("a"), POLICY)
    expire_lease(sessions, job.id)
    # The dead agent's lease is gone: its heartbeat and its result are refused.
    assert not probe_runs.heartbeat(sessions, job.id, "a", first.lease_id, None, 60)
    second = probe_runs.claim(sessions, claimant("b"), POLICY)
    assert second.id == job.id and second.attempts == 2 and second.lease_id != first.lease_id
    assert not probe_runs.finish(sessions, job.id, "a", first.lease_id, "failed", None, "late")
    expire_lease(sessions, job.id)
    assert probe_runs.claim(sessions, claimant("c"), POLICY) is None
    row = probe_runs.get_run(sessions, job.id)
    assert row.status == "interrupted" and "2 attempt(s)" in row.error
    assert [e["agent"] for e in row.attempt_log] == ["a", "b"]
    assert all(e["outcome"] == "lease expired" for e in row.attempt_log)


def test_a_held_lease_takes_heartbeats_and_one_result(sessions):
    job = enqueue(sessions)
    held = probe_runs.claim(sessions, claimant("a"), POLICY)
    assert probe_runs.heartbeat(sessions, job.id, "a", held.lease_id, {"total": 6, "done": 2,
                                                                     "current": "x"}, 60)
    assert not probe_runs.heartbeat(sessions, job.id, "b", held.lease_id, None, 60)
    document = json.loads(RECORDED.read_text())
    assert probe_runs.finish(sessions, job.id, "a", held.lease_id, "succeeded", document)
    assert not probe_runs.finish(sessions, job.id, "a", held.lease_id, "failed", None)
    row = probe_runs.get_run(sessions, job.id)
    assert row.status == "succeeded" and row.agent_name == "a"
    assert row.machine_environment["cpu_model"] == document["environment"]["cpu_model"]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_concurrent_claims_on_postgresql_hand_each_job_to_exactly_one_agent(sessions):
    jobs = {enqueue(sessions).id for _ in range(12)}
    won: dict[str, list[str]] = {}
    barrier = threading.Barrier(12)

    def agent(name: str) -> None:
        barrier.wait()
        row = probe_runs.claim(sessions, claimant(name), POLICY)
        won[name] = [row.id] if row else []

    threads = [threading.Thread(target=agent, args=(f"agent-{i}",)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    claimed = [i for ids in won.values() for i in ids]
    assert len(claimed) == len(set(claimed)) == 12 and set(claimed) == jobs


# --- the HTTP API ---------------------------------------------------------------------------

def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_wrong_missing_or_revoked_tokens_get_401_or_403(client):
    sessions = client.app.state.context.sessions
    _, token = agents.create(sessions, "edge", ["edge_linux"])
    claim = "/api/v1/agent/jobs/claim"
    assert client.post(claim, json={}).status_code == 401
    assert client.post(claim, json={}, headers=bearer(token + "x")).status_code == 401
    assert client.post(claim, json={}, headers=bearer(token)).status_code == 204
    agents.revoke(sessions, "edge")
    refused = client.post(claim, json={}, headers=bearer(token))
    assert refused.status_code == 403 and "revoked" in refused.json()["detail"]


def test_an_agent_leases_reports_progress_and_uploads_its_document(client):
    sessions = client.app.state.context.sessions
    _, token = agents.create(sessions, "edge", ["edge_linux"])
    _, other = agents.create(sessions, "cloud", [])
    run = client.post("/api/v1/probe-runs", json={"models": ["mlp"], "frameworks": ["tensorflow"],
                                                  "machine": "edge"})
    assert run.status_code == 202 and run.json()["machine"] == {"name": "edge"}
    # The other agent is not offered it, and cannot touch it.
    assert client.post("/api/v1/agent/jobs/claim", json={}, headers=bearer(other)
                       ).status_code == 204
    environment = {"cpu_model": "Cortex-A78AE", "cores": 6, "os": "Linux"}
    offer = client.post("/api/v1/agent/jobs/claim", json={"environment": environment},
                        headers=bearer(token)).json()
    assert offer["id"] == run.json()["id"]
    beat = f"/api/v1/agent/jobs/{offer['id']}/heartbeat"
    progress = {"total": 6, "done": 3, "current": "tensorflow/mlp/xla"}
    assert client.post(beat, json={"lease_id": offer["lease_id"], "progress": progress},
                       headers=bearer(other)).status_code == 404
    assert client.post(beat, json={"lease_id": "wrong", "progress": None},
                       headers=bearer(token)).status_code == 409
    assert client.post(beat, json={"lease_id": offer["lease_id"], "progress": progress},
                       headers=bearer(token)).status_code == 204
    status = client.get(f"/api/v1/probe-runs/{offer['id']}").json()
    assert status["status"] == "running" and status["progress"] == progress
    assert status["agent"] == "edge"
    document = json.loads(RECORDED.read_text())
    result = f"/api/v1/agent/jobs/{offer['id']}/result"
    bad = client.post(result, json={"lease_id": offer["lease_id"], "status": "succeeded",
                                    "document": {**document, "status": "nonsense"}},
                      headers=bearer(token))
    assert bad.status_code == 422
    assert client.post(result, json={"lease_id": offer["lease_id"], "status": "succeeded",
                                     "document": document}, headers=bearer(token)
                       ).status_code == 204
    done = client.get(f"/api/v1/probe-runs/{offer['id']}").json()
    assert done["status"] == "succeeded" and done["results"]["environment"]["cpu_model"] == "AMD EPYC"
    assert 'href="/machines/edge"' in client.get(f"/probes/{offer['id']}").text
    machines = {m["name"]: m for m in client.get("/api/v1/machines").json()}
    assert machines["edge"]["environment"] == environment
    assert machines["edge"]["status"] == "online" and machines["cloud"]["labels"] == []
    assert machines["edge"]["recent_runs"][0]["id"] == offer["id"]
    page = client.get("/machines")
    assert page.status_code == 200 and "Cortex-A78AE" in page.text and "edge_linux" in page.text


def test_routing_names_an_enrolled_agent_or_labels_some_agent_carries(client):
    sessions = client.app.state.context.sessions
    agents.create(sessions, "jetson", ["edge_linux", "arm64"])
    post = "/api/v1/probe-runs"
    ok = client.post(post, json={"models": ["mlp"], "machine": {"labels": ["edge_linux"]}})
    assert ok.status_code == 202 and ok.json()["machine"] == {"labels": ["edge_linux"]}
    unknown = client.post(post, json={"models": ["mlp"], "machine": "pixel"})
    assert unknown.status_code == 404 and "pixel" in unknown.text and "jetson" in unknown.text
    nobody = client.post(post, json={"models": ["mlp"], "machine": {"labels": ["tpu"]}})
    assert nobody.status_code == 404 and "tpu" in nobody.text
    default = client.post(post, json={"models": ["mlp"]})
    assert default.json()["machine"] == {"name": "server"}


# --- comparisons ------------------------------------------------------------------------------

def with_samples(document: dict, scale: float, seed: int) -> dict:
    """The recorded document with raw latency samples around its p50, times `scale`."""
    out = copy.deepcopy(document)
    rng = np.random.default_rng(seed)
    for m in out["measurements"]:
        if m["metric"] == "latency_ms_b1":
            m["value"] *= scale
            m["samples"] = list(m["value"] * np.exp(rng.normal(0, 0.03, 60)))
    return out


def _summary_only(document: dict) -> dict:
    # The recorded run keeps raw samples (issue 10b); these cases need a document without.
    out = copy.deepcopy(document)
    for m in out["measurements"]:
        m.pop("samples", None)
    return out


def test_compare_uses_samples_when_present_and_never_invents_an_interval():
    document = _summary_only(json.loads(RECORDED.read_text()))
    summary_only = compare_runs(document, document)
    latency = [m for m in summary_only.metrics if m.metric == "latency_ms_b1"]
    assert latency and all(m.ci95 is None and m.verdict == "inconclusive" for m in latency)
    assert all("cannot be computed" in m.note for m in latency)
    slower = compare_runs(with_samples(document, 1.0, 1), with_samples(document, 1.3, 2))
    latency = [m for m in slower.metrics if m.metric == "latency_ms_b1"]
    assert all(m.basis == "samples" and m.verdict == "slower" for m in latency)
    assert all(m.change == "regression" and m.ci95[1] < 0.95 for m in latency)


def test_compare_two_runs_from_two_machines_over_the_api(client):
    sessions = client.app.state.context.sessions
    document = _summary_only(json.loads(RECORDED.read_text()))
    other = copy.deepcopy(document)
    other["environment"]["cpu_model"] = "Cortex-A78AE"
    other["environment"]["frameworks"]["pytorch"]["version"] = "2.14.0"
    a = probe_runs.store_imported(sessions, document).id
    b = probe_runs.store_imported(sessions, other).id
    response = client.get(f"/api/v1/probe-runs/compare?a={a}&b={b}")
    assert response.status_code == 200
    body = response.json()
    fields = {d["field"]: (d["a"], d["b"]) for d in body["environment_differences"]}
    assert fields["cpu_model"] == ("AMD EPYC", "Cortex-A78AE")
    assert fields["frameworks.pytorch.version"] == ("2.13.0+cpu", "2.14.0")
    assert len(body["metrics"]) == len(document["measurements"])
    assert {m["verdict"] for m in body["metrics"]} == {"inconclusive"}
    assert client.get(f"/api/v1/probe-runs/compare?a={a}&b=AAAAAAAAAAAAAAAAAAAAAAAA"
                      ).status_code == 404
    page = client.get(f"/compare?a={a}&b={b}")
    assert page.status_code == 200 and "Cortex-A78AE" in page.text


def test_a_machines_history_flags_a_regression_beyond_five_percent(client):
    sessions = client.app.state.context.sessions
    agents.create(sessions, "edge", [])
    document = json.loads(RECORDED.read_text())
    for scale, seed in ((1.0, 1), (1.0, 2), (1.4, 3)):
        job = enqueue(sessions, {"name": "edge"})
        held = probe_runs.claim(sessions, claimant("edge"), POLICY)
        assert held.id == job.id
        probe_runs.finish(sessions, job.id, "edge", held.lease_id, "succeeded",
                          with_samples(document, scale, seed))
    history = client.get("/api/v1/machines/edge").json()["history"]
    assert len(history) == 3 and history[-1]["compared_with"] is None
    newest, middle = history[0], history[1]
    assert newest["flags"] and {f["change"] for f in newest["flags"]} == {"regression"}
    assert not middle["flags"]  # same distribution: no flag
    assert client.get("/api/v1/machines/nobody").status_code == 404
    page = client.get("/machines/edge")
    assert page.status_code == 200 and "regression" in page.text


def test_the_agent_command_loads_no_web_server_or_database_code():
    # An agent-only machine needs the frameworks and a few small packages (README).
    import subprocess
    import sys

    script = ("import sys\nimport app.cli, app.agent.http_queue, app.agent.loop, "
              "app.agent.fingerprint, probes.runner\nprint(' '.join(sorted(sys.modules)))")
    loaded = set(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                check=True).stdout.split())
    heavy = {"fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "psycopg", "jinja2",
             "torch", "tensorflow"}
    assert loaded & heavy == set()


# --- reports citing several machines -------------------------------------------------------

def finished_run_on(sessions, name: str, labels: list[str], document: dict) -> str:
    agents.create(sessions, name, labels)
    job = enqueue(sessions, {"name": name})
    held = probe_runs.claim(sessions, claimant(name, *labels), POLICY)
    assert held.id == job.id
    assert probe_runs.finish(sessions, job.id, name, held.lease_id, "succeeded", document)
    return job.id


def test_a_report_citing_two_machines_shows_both_and_scores_with_the_targets_machine(client):
    from tests.conftest import base_answers

    sessions = client.app.state.context.sessions
    document = json.loads(RECORDED.read_text())
    arm = copy.deepcopy(document)
    arm["environment"]["cpu_model"] = "Cortex-A78AE"
    cloud = finished_run_on(sessions, "gpu-box", ["gpu"], document)  # stands for no target
    edge = finished_run_on(sessions, "jetson-1", ["edge_linux", "arm64"], arm)
    answers = {**base_answers(), "deployment_targets": ["edge_linux", "cloud_server"]}
    created = client.post("/api/v1/reports", json={"answers": answers,
                                                   "probe_run_ids": [cloud, edge]})
    assert created.status_code == 201, created.text
    report = client.get(f"/api/v1/reports/{created.json()['id']}").json()
    assert report["probe_run_ids"] == [cloud, edge]
    by_run = {m["probe_run_id"]: m for m in report["machine_evidence"]}
    assert by_run[edge]["machine"] == "jetson-1" and by_run[edge]["stands_for"] == ["edge_linux"]
    assert by_run[cloud]["stands_for"] == [] and by_run[cloud]["machine"] == "gpu-box"
    # Cited second, but the only run from a machine labelled with an answered target: it is
    # consulted first; the first cited run speaks for cloud_server, which has no machine.
    assert by_run[edge]["used_for_scoring"] and by_run[cloud]["used_for_scoring"]
    assert report["recommendation"]["evidence"]["probe_run_id"] == edge
    edge_only = {**answers, "deployment_targets": ["edge_linux"]}
    alone = client.post("/api/v1/reports", json={"answers": edge_only,
                                                 "probe_run_ids": [cloud, edge]}).json()
    by_run = {m["probe_run_id"]: m
              for m in client.get(f"/api/v1/reports/{alone['id']}").json()["machine_evidence"]}
    assert by_run[edge]["used_for_scoring"] and not by_run[cloud]["used_for_scoring"]
    # The recommendations API takes the same list (and answers as the report was scored).
    direct = client.post("/api/v1/recommendations", json={"answers": answers,
                                                          "probe_run_ids": [cloud, edge]})
    assert direct.status_code == 200, direct.text
    assert direct.json() == report["recommendation"]
    assert client.post("/api/v1/recommendations", json={
        "answers": answers, "probe_run_ids": [cloud, "AAAAAAAAAAAAAAAAAAAAAAAA"]}).status_code == 404
    assert by_run[edge]["evidence"]["environment"]["cpu_model"] == "Cortex-A78AE"
    page = client.get(f"/r/{report['id']}").text
    assert 'id="machine-evidence"' in page
    assert "jetson-1" in page and "gpu-box" in page and "Cortex-A78AE" in page
    markdown = client.get(f"/r/{report['id']}.md").text
    machines_part = markdown.split("## Evidence by machine", 1)[1].replace("\\", "")  # escapes
    assert "### jetson-1" in machines_part and "### gpu-box" in machines_part
    assert "Cortex-A78AE" in machines_part and "edge_linux" in machines_part
    # Still a single run: probe_run_id keeps working as before.
    single = client.post("/api/v1/reports", json={"answers": answers, "probe_run_id": cloud})
    assert single.status_code == 201
    assert client.get(f"/api/v1/reports/{single.json()['id']}").json()["probe_run_ids"] == [cloud]
    missing = client.post("/api/v1/reports", json={
        "answers": answers, "probe_run_ids": [cloud, "AAAAAAAAAAAAAAAAAAAAAAAA"]})
    assert missing.status_code == 404 and "probe_run_ids" in missing.text


def test_the_agents_commands_add_list_and_revoke(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "ADVISOR_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}

    def advisor(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "app.cli", *args], env=env,
                              capture_output=True, text=True, timeout=120)

    added = advisor("agents", "add", "jetson-1", "--label", "edge_linux,arm64")
    assert added.returncode == 0
    token = added.stdout.strip()
    assert "." in token and "shown once" in added.stderr
    again = advisor("agents", "add", "jetson-1")
    assert again.returncode == 2 and "already exists" in again.stderr
    listed = json.loads(advisor("agents", "list", "--json").stdout)
    assert listed == [{"name": "jetson-1", "labels": ["edge_linux", "arm64"], "builtin": False,
                       "status": "offline", "last_seen_at": None}]
    assert advisor("agents", "revoke", "jetson-1").returncode == 0
    assert json.loads(advisor("agents", "list", "--json").stdout)[0]["status"] == "revoked"
    unknown = advisor("agents", "revoke", "nobody")
    assert unknown.returncode == 2 and "nobody" in unknown.stderr
    bad_server = advisor("agent", "--server", "ftp://x", "--token", token)
    assert bad_server.returncode == 2 and "--server" in bad_server.stderr


def test_runs_from_other_machines_are_never_the_default_evidence(client):
    from tests.conftest import base_answers

    sessions = client.app.state.context.sessions
    document = json.loads(RECORDED.read_text())
    remote = finished_run_on(sessions, "jetson-1", ["edge_linux"], document)
    rec = client.post("/api/v1/recommendations", json={"answers": base_answers()}).json()
    assert rec["evidence"] is None
    named = client.post("/api/v1/recommendations", json={"answers": base_answers(),
                                                         "probe_run_id": remote}).json()
    assert named["evidence"]["probe_run_id"] == remote
