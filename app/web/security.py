"""Response headers, the request body limit and per-client rate limits (spec §6)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("advisor.http")

# Only this origin: no CDN, no inline script. Charts are inline SVG (img-src data: for none).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")


class SecurityMiddleware:
    """Adds CSP and nosniff to every response; refuses bodies over the limit with 413."""

    def __init__(self, app: ASGIApp, max_body_bytes: int):
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await _too_large(send, self.max_body_bytes)
            return
        if scope["method"] in ("POST", "PUT", "PATCH", "DELETE"):
            # Read the whole body first (it is at most the limit, 2 MiB by default):
            # a chunked body carries no length, and refusing it half-read would leave
            # the application to see a truncated request.
            chunks: list[bytes] = []
            size = 0
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_body_bytes:
                    await _too_large(send, self.max_body_bytes)
                    return
                chunks.append(chunk)
                more = message.get("more_body", False)
            body = b"".join(chunks)
            replayed = False

            async def replay() -> Message:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            receive = replay

        async def secured_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [(b"x-content-type-options", b"nosniff"),
                         (b"content-security-policy", CSP.encode())]
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in extra if k not in names]
            await send(message)

        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await secured_send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            # A generic body: no traceback or internal detail ever reaches the client.
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if started:
                raise
            body = b'{"detail":"internal server error"}'
            await send({"type": "http.response.start", "status": 500, "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-content-type-options", b"nosniff"),
                (b"content-security-policy", CSP.encode())]})
            await send({"type": "http.response.body", "body": body})


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps({"detail": f"request body is larger than {limit} bytes"}).encode()
    await send({"type": "http.response.start", "status": 413, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"x-content-type-options", b"nosniff"), (b"content-security-policy", CSP.encode())]})
    await send({"type": "http.response.body", "body": body})


class RateLimiter:
    """Sliding-window limits per (bucket, client) in this process's memory."""

    def __init__(self, enabled: bool, limits: dict[str, tuple[int, float]]):
        self.enabled = enabled
        self.limits = limits  # bucket -> (requests, window seconds)
        self._hits: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, bucket: str, client: str) -> float | None:
        """Record a hit; return None if allowed, else the seconds until one is allowed."""
        if not self.enabled:
            return None
        count, window = self.limits[bucket]
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault((bucket, client), deque())
            while hits and hits[0] <= now - window:
                hits.popleft()
            if len(hits) >= count:
                return max(0.0, hits[0] + window - now)
            hits.append(now)
            if len(self._hits) > 100_000:  # bound memory under address-spraying clients
                self._hits = {k: v for k, v in self._hits.items() if v}
            return None


def client_address(scope_or_request: Any, trust_forwarded_for: bool) -> str:
    """Return the client's address; X-Forwarded-For only when configured (behind a proxy)."""
    request = scope_or_request
    if trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.client.host if request.client else "unknown"
