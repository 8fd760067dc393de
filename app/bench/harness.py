"""What the server benchmarks share: a real server on a free port with a fresh database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import yaml

from app.decision.rule_set import SHIPPED_RULES_DIR


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def example_answers() -> list[dict[str, Any]]:
    """Return the shipped example answer sets (rules/examples/*.yaml)."""
    return [yaml.safe_load(p.read_text())
            for p in sorted((SHIPPED_RULES_DIR / "examples").glob("*.yaml"))]


@contextmanager
def running_server(with_lag_probe: bool = False, loop: str = "asyncio"
                   ) -> Iterator[tuple[str, int, str]]:
    """Start `advisor serve` (one uvicorn process, fresh SQLite file, no rate limits, on the
    given event loop), or the same server with an event-loop lag probe
    (app/bench/lag_server.py); yield (base URL, server pid, temporary directory) and stop it
    afterwards."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="advisor-bench-") as tmp:
        env = {**os.environ, "ADVISOR_DATABASE_URL": f"sqlite:///{tmp}/bench.db",
               "ADVISOR_RATE_LIMIT_ENABLED": "false"}
        command = ["app.bench.lag_server", str(port)] if with_lag_probe else \
            ["app.cli", "serve", "--port", str(port), "--loop", loop]
        server = subprocess.Popen([sys.executable, "-m", *command], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_ready(base)
            yield base, server.pid, tmp
        finally:
            server.terminate()
            server.wait(20)


def wait_ready(base: str) -> None:
    """Return once the server answers /healthz (exit after 60 s)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("the server did not start")
