"""`advisor bench server`: starts the real server (uvicorn, one process) and drives it with
wrk (a load generator not written in Python), measuring in one run a trivial JSON endpoint,
POST /api/v1/recommendations, GET /api/v1/reports/{id} and GET /r/{id}. Prints requests per
second, latency percentiles, errors, the ratios to the trivial endpoint and the server's RSS."""

from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess
import threading
from pathlib import Path

import httpx
import psutil
from rich.console import Console
from rich.table import Table

from app.bench.harness import example_answers, running_server

# Random, valid answer sets built in Lua per request, so nearly every request misses the
# memo and measures validation and scoring themselves.
LUA_RANDOM = """
math.randomseed(os.time() + tonumber(tostring({{}}):sub(8), 16))
local singles = {singles}
local multis = {multis}
local function pick(list) return list[math.random(#list)] end
request = function()
  local parts = {{}}
  for name, values in pairs(singles) do
    parts[#parts + 1] = '"' .. name .. '": "' .. pick(values) .. '"'
  end
  for name, values in pairs(multis) do
    parts[#parts + 1] = '"' .. name .. '": ["' .. pick(values) .. '"]'
  end
  parts[#parts + 1] = '"uses_hub_models": ' .. pick({{"true", "false"}})
  parts[#parts + 1] = '"needs_mlops_pipeline": ' .. pick({{"true", "false"}})
  -- a counter in the answers makes every body a new answer set, even across equal draws
  counter = (counter or math.random(0, 50000)) + 1
  parts[#parts + 1] = '"models_in_production": ' .. (counter % 100001)
  parts[#parts + 1] = '"latency_budget_ms": ' .. math.random(1, 60000)
  local body = '{{"answers": {{' .. table.concat(parts, ", ") .. '}}}}'
  return wrk.format("POST", "/api/v1/recommendations",
                    {{["Content-Type"] = "application/json"}}, body)
end
"""

LUA_POST = """
local bodies = {{}}
local i = 0
{bodies}
request = function()
  i = (i % #bodies) + 1
  return wrk.format("POST", "/api/v1/recommendations",
                    {{["Content-Type"] = "application/json"}}, bodies[i])
end
"""



def _parse_wrk(text: str) -> dict[str, float]:
    def ms(value: str, unit: str) -> float:
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]

    out: dict[str, float] = {}
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    out["rps"] = float(rps.group(1)) if rps else 0.0
    for pct in ("50", "90", "99"):
        found = re.search(rf"^\s+{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
        out[f"p{pct}_ms"] = ms(*found.groups()) if found else float("nan")
    total = re.search(r"(\d+) requests in", text)
    out["requests"] = float(total.group(1)) if total else 0.0
    errors = 0
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                              text)
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if non2xx:
        errors += int(non2xx.group(1))
    out["errors"] = float(errors)
    return out


def run_server_benchmark(console: Console, seconds: int = 5, connections: int = 32,
                         threads: int = 2, rounds: int = 3, loop: str = "asyncio") -> None:
    """Start the server on a fresh SQLite database and measure the endpoints.

    Each round measures every endpoint once, ping first; a row's ratio is taken against
    the same round's ping and the medians over rounds are printed. A machine's speed drifts
    by several percent from one ten-second window to the next (other work, frequency), and
    interleaving keeps that drift out of the ratios."""
    if shutil.which("wrk") is None:
        console.print("wrk is not installed (Debian: apt-get install wrk)")
        raise SystemExit(2)
    with running_server(loop=loop) as (base, server_pid, tmp):
        examples = example_answers()
        report = httpx.post(f"{base}/api/v1/reports", json={"answers": examples[0]}).json()
        lua = Path(tmp) / "post.lua"
        lua.write_text(LUA_POST.format(bodies="\n".join(
            f"bodies[{i + 1}] = {_lua_string(json.dumps({'answers': a}))}"
            for i, a in enumerate(examples))))
        random_lua = Path(tmp) / "random.lua"
        random_lua.write_text(_random_answers_lua())
        targets = [
            ("trivial JSON (GET /api/v1/ping)", [f"{base}/api/v1/ping"]),
            ("POST /api/v1/recommendations", ["-s", str(lua), base]),
            ("GET /api/v1/reports/{id}", [f"{base}/api/v1/reports/{report['id']}"]),
            ("GET /r/{id} (HTML)", [f"{base}/r/{report['id']}"]),
            ("POST /api/v1/recommendations, random answers (memo misses)",
             ["-s", str(random_lua), base]),
        ]
        peak_rss = [psutil.Process(server_pid).memory_info().rss]
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.2):
                try:
                    peak_rss.append(psutil.Process(server_pid).memory_info().rss)
                except psutil.Error:
                    return

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        for _, args in targets:  # warm-up: every path's first requests fill its caches
            subprocess.run(["wrk", "-t", "1", "-c", "4", "-d", "2", *args],
                           capture_output=True, check=False)
        measured: list[list[dict[str, float]]] = [[] for _ in targets]
        for _ in range(rounds):
            for index, (_, args) in enumerate(targets):
                done = subprocess.run(
                    ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
                     "--latency", *args], capture_output=True, text=True, check=False)
                found = _parse_wrk(done.stdout)
                found["ratio"] = found["rps"] / (measured[0][-1]["rps"] if index else
                                                 found["rps"] or 1.0)
                measured[index].append(found)
        stop.set()
        sampler.join()
    table = Table(title=f"Server benchmark: wrk, {connections} connections, {rounds} interleaved "
                        f"rounds of {seconds} s per endpoint, one uvicorn process on {loop} (medians)")
    for column in ("endpoint", "req/s", "ratio to trivial", "ratios by round", "target",
                   "p50 ms", "p90 ms", "p99 ms", "errors"):
        table.add_column(column)
    targets_ratio = {1: 0.70, 2: 0.80, 3: 0.80, 4: 0.50}
    for index, (name, _) in enumerate(targets):
        runs = measured[index]
        target = targets_ratio.get(index)
        table.add_row(
            name, f"{_median(runs, 'rps'):,.0f}", f"{_median(runs, 'ratio'):.2f}",
            " ".join(f"{r['ratio']:.2f}" for r in runs), f">= {target:.2f}" if target else "—",
            f"{_median(runs, 'p50_ms'):.2f}", f"{_median(runs, 'p90_ms'):.2f}",
            f"{_median(runs, 'p99_ms'):.2f}", f"{sum(r['errors'] for r in runs):.0f}")
    console.print(table)
    console.print("The first POST row cycles the seven example answer files, which the "
                  "recommendation memo answers after the first request of each; the last row "
                  "sends random answers, so it measures validation and scoring.",
                  highlight=False)
    console.print(f"server peak RSS during the run: {max(peak_rss) / 2**20:.0f} MB "
                  "(target < 150 MB); p99 target < 25 ms at 32 connections", highlight=False)


def _median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def _random_answers_lua() -> str:
    from app.decision.rule_set import load_rule_set

    questions = load_rule_set().questionnaire.questions()
    singles, multis = [], []
    for q in questions:
        values = ", ".join(f'"{v}"' for v in q.values if v not in q.exclusive)
        if q.type == "single":
            singles.append(f"{q.id} = {{{values}}}")
        elif q.type == "multi" and q.required:
            multis.append(f"{q.id} = {{{values}}}")
    return LUA_RANDOM.format(singles="{" + ", ".join(singles) + "}",
                             multis="{" + ", ".join(multis) + "}")




def _lua_string(text: str) -> str:
    return "[==[" + text + "]==]"
