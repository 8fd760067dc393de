"""`advisor bench stall`: the worst event-loop stall a client can provoke within the body limit,
and the server's memory after many whitespace-padded bodies.

The real server runs (one uvicorn process configured as `advisor serve` does, fresh SQLite)
with a lag probe on its event loop (app/bench/lag_server.py): the worst lateness of a 2 ms
sleep is the longest the loop could not run. While two attacker threads send one kind of
hostile request over and over, a pinger also times GET /api/v1/ping (an async route) from
outside, which adds client and scheduling noise. Each attack is a request within
ADVISOR_MAX_BODY_BYTES that once stalled or bloated the server (issue 12)."""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import psutil
from rich.console import Console
from rich.table import Table

from app.bench.harness import example_answers, running_server

RECORDED = Path(__file__).resolve().parents[2] / "tests" / "data" / "probe-run-recorded.json"
LIMIT = 2 * 1024 * 1024 - 4096  # just under the default body limit
IMPORT_LIMIT = 512 * 1024 - 1024  # just under the default import limit


def _document_of(size: int) -> dict[str, Any]:
    """Return the recorded probe document with its measurements repeated to about `size`."""
    document = json.loads(RECORDED.read_text())
    one = document["measurements"][0]
    document["measurements"] = [one] * ((size - 5_000) // (len(json.dumps(one)) + 2))
    return document


def _cpu_ms(call: Callable[[], Any], repeats: int = 5) -> float:
    """Return the median CPU time of one call in ms (CPU time: other processes' load on this
    shared machine does not count, unlike wall time)."""
    times = []
    for _ in range(repeats):
        started = time.thread_time()
        call()
        times.append((time.thread_time() - started) * 1000)
    return statistics.median(times)


def longest_uninterruptible_steps() -> list[tuple[str, float]]:
    """Return the CPU cost of each single C call the server makes on a hostile body that
    passes the size checks. Such a call holds the interpreter lock from start to end, so
    on an idle core it is the longest the event loop can be kept waiting by that body;
    Python-level work (validation loops, parse_qs, templates) yields every 5 ms."""
    from app.decision.probe_document import ProbeRunDocument
    from app.decision.rule_set import load_rule_set
    from app.web.api.bodies import SEPARATORS, separator_budget
    from app.web.api.schemas import ProbeRunPublic, RecommendationRequest

    answers = example_answers()[0]
    body = json.dumps({"answers": answers})
    padded = (" " * (LIMIT - len(body)) + body).encode()
    budget = separator_budget(load_rule_set().questionnaire)
    dense = json.dumps({"answers": {**answers, **{f"x{i}": [] for i in range(budget // 3)}}})
    dense = (dense + " " * (LIMIT - len(dense))).encode()
    document = json.dumps(_document_of(IMPORT_LIMIT)).encode()
    parsed = ProbeRunDocument.model_validate_json(document)
    as_dict = parsed.to_json()
    public = {"id": "x" * 24, "status": "succeeded", "source": "imported", "mode": "quick",
              "models": [], "frameworks": [], "created_at": "2026-01-01T00:00:00Z",
              "started_at": None, "finished_at": None, "progress": None, "error": None}
    return [
        ("count separators in a 2 MiB body (every JSON body)",
         max(_cpu_ms(lambda s=s: padded.count(s)) for s in SEPARATORS)),
        ("json.loads of a 2 MiB whitespace-padded valid body", _cpu_ms(lambda: json.loads(padded))),
        ("json.loads of a 2 MiB body at the separator budget", _cpu_ms(lambda: json.loads(dense))),
        ("json.loads + RecommendationRequest.model_validate of that body",
         _cpu_ms(lambda: RecommendationRequest.model_validate(json.loads(dense)))),
        ("ProbeRunDocument.model_validate_json, 512 KiB document",
         _cpu_ms(lambda: ProbeRunDocument.model_validate_json(document))),
        ("json.dumps of that document (storing it)", _cpu_ms(lambda: json.dumps(as_dict))),
        ("ProbeRunPublic with that document, to JSON (the 201 answer)",
         _cpu_ms(lambda: ProbeRunPublic(**public, results=as_dict).model_dump_json())),
    ]


def _attacks(base: str, answers: dict[str, Any], report: dict[str, Any]
             ) -> list[tuple[str, Callable[[httpx.Client], Any]]]:
    body = json.dumps({"answers": answers})
    unknown_ids = {f"q{i:07d}": 1 for i in range(LIMIT // 16)}
    repeated = {**answers, "priorities": ["iteration_speed"] * (LIMIT // 20)}
    nested = '{"answers": ' + "[" * (LIMIT // 2) + "]" * (LIMIT // 2) + "}"
    form = urlencode({f"f{i}": "x" for i in range(LIMIT // 12)})
    document = json.loads(RECORDED.read_text())
    one = document["measurements"][0]
    document["measurements"] = [one] * ((LIMIT - 70_000) // len(json.dumps(one)))
    largest_import = _document_of(IMPORT_LIMIT)
    padded = [" " * (LIMIT - len(body) - i) + body for i in range(3)]
    json_headers = {"content-type": "application/json"}
    form_headers = {"content-type": "application/x-www-form-urlencoded"}

    def post(path: str, content: str, headers: dict[str, str]) -> Callable[[httpx.Client], Any]:
        data = content.encode()
        return lambda client: client.post(f"{base}{path}", content=data, headers=headers)

    return [
        ("multi answer with ~100,000 repeated items",
         post("/api/v1/recommendations", json.dumps({"answers": repeated}), json_headers)),
        ("2 MiB of unknown question ids",
         post("/api/v1/recommendations", json.dumps({"answers": unknown_ids}), json_headers)),
        ("2 MiB whitespace-padded valid answers",
         post("/api/v1/recommendations", padded[0], json_headers)),
        ("2 MiB of nested JSON arrays",
         post("/api/v1/recommendations", nested, json_headers)),
        ("2 MiB of unknown form fields (POST /reports)", post("/reports", form, form_headers)),
        ("2 MiB probe document, many measurements (POST /api/v1/probe-runs/import)",
         post("/api/v1/probe-runs/import", json.dumps(document), json_headers)),
        ("512 KiB probe document (the import limit)",
         post("/api/v1/probe-runs/import", json.dumps(largest_import), json_headers)),
        ("report page with a forged delete-token cookie",
         lambda client: client.get(f"{base}/r/{report['id']}", headers={
             "cookie": f"delete_token_{report['id']}={'f' * 43}"})),
        ("report creation (valid answers)",
         post("/api/v1/reports", body, json_headers)),
    ]


def _ping_while(base: str, seconds: float, attack: Callable[[httpx.Client], Any] | None,
                attackers: int = 2) -> tuple[list[float], int, list[int]]:
    """Return (ping latencies in ms, attack requests sent, their status codes)."""
    stop = threading.Event()
    statuses: list[int] = []

    def attacker() -> None:
        with httpx.Client(timeout=120) as client:
            while not stop.is_set():
                statuses.append(attack(client).status_code)

    threads = [threading.Thread(target=attacker, daemon=True) for _ in range(attackers)] \
        if attack else []
    for thread in threads:
        thread.start()
    latencies = []
    with httpx.Client(timeout=120) as pinger:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.perf_counter()
            pinger.get(f"{base}/api/v1/ping")
            latencies.append((time.perf_counter() - started) * 1000)
            time.sleep(0.002)
    stop.set()
    for thread in threads:
        thread.join(180)
    return latencies, len(statuses), sorted(set(statuses))


def run_stall_benchmark(console: Console, seconds: float = 6.0, padded_bodies: int = 150,
                        only: str | None = None) -> None:
    """Print the slowest ping under each attack and the RSS after padded bodies."""
    with running_server(with_lag_probe=True) as (base, server_pid, _):
        answers = example_answers()[0]
        report = httpx.post(f"{base}/api/v1/reports", json={"answers": answers}).json()
        server = psutil.Process(server_pid)
        lag = f"{base}/_bench/lag"
        httpx.get(lag)
        idle, _, _ = _ping_while(base, seconds, None)
        idle_lag = httpx.get(lag).json()["worst_lag_ms"]
        table = Table(title=f"Event-loop stalls: slowest GET /api/v1/ping while 2 clients send "
                            f"the attack for {seconds:.0f} s (one uvicorn process)")
        for column in ("attack", "requests", "statuses", "loop lag max ms", "ping p50 ms",
                       "ping p99 ms", "ping max ms"):
            table.add_column(column)
        table.add_row("none (idle baseline)", "0", "—", f"{idle_lag:.1f}",
                      f"{statistics.median(idle):.1f}", f"{_pct(idle, 99):.1f}",
                      f"{max(idle):.1f}")
        worst = 0.0
        for name, attack in _attacks(base, answers, report):
            if only and only not in name:
                continue
            httpx.get(lag)
            latencies, sent, statuses = _ping_while(base, seconds, attack)
            stalled = httpx.get(lag).json()["worst_lag_ms"]
            worst = max(worst, stalled)
            table.add_row(name, str(sent), ",".join(map(str, statuses)), f"{stalled:.1f}",
                          f"{statistics.median(latencies):.1f}", f"{_pct(latencies, 99):.1f}",
                          f"{max(latencies):.1f}")
        console.print(table)
        console.print(f"worst event-loop stall under attack: {worst:.1f} ms (idle: {idle_lag:.1f} "
                      "ms); target: no stall over 50 ms", highlight=False)

        steps = Table(title="Longest single C call (holds the interpreter lock) per hostile body, "
                            "CPU ms, median of 5, measured in this process")
        steps.add_column("step")
        steps.add_column("CPU ms")
        for name, cpu in longest_uninterruptible_steps():
            steps.add_row(name, f"{cpu:.1f}")
        console.print(steps)

        body = json.dumps({"answers": answers})
        before = server.memory_info().rss
        with httpx.Client(timeout=120) as client:
            for i in range(padded_bodies):
                padded = " " * (LIMIT - len(body) - i) + body
                client.post(f"{base}/api/v1/recommendations", content=padded.encode(),
                            headers={"content-type": "application/json"})
        after = server.memory_info().rss
        console.print(f"server RSS: {before / 2**20:.0f} MB before, {after / 2**20:.0f} MB after "
                      f"{padded_bodies} whitespace-padded bodies of {LIMIT / 2**20:.1f} MiB",
                      highlight=False)


def _pct(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]
