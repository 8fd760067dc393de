"""`advisor serve` as deployed (a real uvicorn process): bounded request heads, proxy headers
ignored unless configured, HEAD without a body."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from app.bench.harness import free_port, wait_ready
from tests.conftest import base_answers


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("served")
    port = free_port()
    env = {**os.environ, "ADVISOR_DATABASE_URL": f"sqlite:///{tmp}/served.db",
           "ADVISOR_RATE_LIMIT_REPORTS_PER_MINUTE": "2", "ADVISOR_MAX_HEADER_BYTES": "16384"}
    process = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base)
        yield base
    finally:
        process.terminate()
        process.wait(20)


def raw_request(base: str, head: bytes) -> bytes:
    """Send a raw request head; return what the server answered (b"" if it hung up)."""
    port = int(base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        try:
            connection.sendall(head)
        except OSError:
            return b""
        chunks = []
        try:
            while chunk := connection.recv(65536):
                chunks.append(chunk)
        except OSError:
            pass
        return b"".join(chunks)


def test_an_oversized_request_head_is_refused_before_the_app(server):
    ok = raw_request(server, b"GET /api/v1/ping HTTP/1.1\r\nHost: localhost\r\n"
                             b"Connection: close\r\n\r\n")
    assert ok.startswith(b"HTTP/1.1 200")
    huge = (b"GET /api/v1/ping HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 200_000
            + b"\r\nConnection: close\r\n\r\n")
    answer = raw_request(server, huge)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:100]


def test_a_large_body_behind_a_small_head_is_not_taken_for_a_large_head(server):
    body = b'{"answers": {"project_name": "' + b" " * 1_500_000 + b'"}}'
    answer = raw_request(server, b"POST /api/v1/recommendations HTTP/1.1\r\nHost: localhost\r\n"
                                 b"Content-Type: application/json\r\nConnection: close\r\n"
                                 b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
                                 + body)
    assert answer.startswith(b"HTTP/1.1 422"), answer[:100]  # read whole, then validated


def test_client_written_forwarded_for_gets_no_fresh_bucket(server):
    codes = [httpx.post(f"{server}/api/v1/reports", json={"answers": base_answers()},
                        headers={"x-forwarded-for": f"198.51.100.{i}"}).status_code
             for i in range(4)]
    assert codes == [201, 201, 429, 429]


def test_head_has_no_body_over_the_wire(server):
    answer = raw_request(server, b"HEAD / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and body == b""
    assert b"content-length: " in head.lower()
