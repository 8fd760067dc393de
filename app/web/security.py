"""Response headers, allowed hosts, cross-site refusal, the request body limit, HEAD, and
per-client rate limits (spec §6; README "Security")."""

from __future__ import annotations

import json
import logging
import time
from typing import Any
from urllib.parse import urlsplit

from limits import RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("advisor.http")

# Only this origin: no CDN, no inline script. Charts are inline SVG (img-src data: for none).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")


UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def host_of(value: str) -> str:
    """Return the host part of a Host header or netloc, lower-case, without the port."""
    value = value.strip().lower()
    if value.startswith("["):  # [::1]:8000
        return value[: value.find("]") + 1] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def host_allowed(host: str, allowed: list[str]) -> bool:
    """Return whether a Host header names one of the allowed hosts (`*.x` covers subdomains)."""
    name = host_of(host)
    for pattern in allowed:
        pattern = pattern.lower()
        if pattern == "*" or pattern == name or (
                pattern.startswith("*.") and name.endswith(pattern[1:])):
            return True
    return False


def cross_site(headers: dict[bytes, bytes]) -> bool:
    """Return whether a browser says the request comes from another site: Sec-Fetch-Site
    (sent by every current browser), else an Origin whose host is not the Host header.
    Clients that send neither (curl, CI jobs) are not browsers and are not refused."""
    site = headers.get(b"sec-fetch-site")
    if site is not None:
        return site not in (b"same-origin", b"none")
    origin = headers.get(b"origin")
    if origin is None:
        return False
    netloc = urlsplit(origin.decode("latin-1")).netloc
    return not netloc or host_of(netloc) != host_of(headers.get(b"host", b"").decode("latin-1"))


class SecurityMiddleware:
    """Adds CSP and nosniff to every response; answers 400 to a Host not allowed, 403 to a
    cross-site state-changing request, 413 to a body over the limit; answers HEAD like GET
    without the body."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, allowed_hosts: list[str] | None = None):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.allowed_hosts = allowed_hosts if allowed_hosts is not None else ["*"]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if not host_allowed(headers.get(b"host", b"").decode("latin-1"), self.allowed_hosts):
            await _refuse(send, 400, "this host name is not served here (ADVISOR_ALLOWED_HOSTS)")
            return
        if scope["method"] in UNSAFE_METHODS and cross_site(headers):
            await _refuse(send, 403, "cross-site requests that change state are refused")
            return
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await _too_large(send, self.max_body_bytes)
            return
        head = scope["method"] == "HEAD"
        if head:  # routed as GET; the body is dropped below, its length kept
            scope = {**scope, "method": "GET"}
        if scope["method"] in UNSAFE_METHODS:
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
            receive = replay({"type": "http.request", "body": b"".join(chunks),
                              "more_body": False}, receive)

        async def secured_send(message: Message) -> None:
            if head and message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
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


def replay(first: Message, receive: Receive) -> Receive:
    """Return a receive that gives `first` again, then the rest of the request."""
    replayed = False

    async def replayed_receive() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return first
        return await receive()

    return replayed_receive


async def _too_large(send: Send, limit: int) -> None:
    await _refuse(send, 413, f"request body is larger than {limit} bytes")


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"x-content-type-options", b"nosniff"), (b"content-security-policy", CSP.encode())]})
    await send({"type": "http.response.body", "body": body})


class RateLimiterUnavailable(Exception):
    """The shared rate-limit store (Redis) did not answer."""


class RateLimiter:
    """Moving-window limits per (bucket, client), kept by the `limits` library: in Redis when
    a URL is given (every server process shares the counters), else in this process's memory.
    Calls may block on Redis: call from a worker thread, never on the event loop."""

    def __init__(self, enabled: bool, limits: dict[str, tuple[int, float]],
                 redis_url: str | None = None, key_prefix: str = "advisor"):
        self.enabled = enabled
        self.limits = {bucket: RateLimitItemPerSecond(count, int(window))
                       for bucket, (count, window) in limits.items()}
        self.storage_url = redis_url or "memory://"
        options = {"key_prefix": key_prefix} if redis_url else {}
        self._limiter = MovingWindowRateLimiter(storage_from_string(self.storage_url, **options))

    def check(self, bucket: str, client: str) -> float | None:
        """Record a hit; return None if allowed, else the seconds until one is allowed."""
        if not self.enabled:
            return None
        item = self.limits[bucket]
        try:
            if self._limiter.hit(item, bucket, client):
                return None
            reset_at, _ = self._limiter.get_window_stats(item, bucket, client)
        except Exception as exc:  # noqa: BLE001 - redis errors have many classes
            log.error("rate-limit store %s failed: %s", self.storage_url.split("@")[-1], exc)
            raise RateLimiterUnavailable() from exc
        return max(0.0, reset_at - time.time())


def client_address(scope_or_request: Any, trust_forwarded_for: bool) -> str:
    """Return the client's address. With trust_forwarded_for (one reverse proxy in front),
    the last X-Forwarded-For hop: the one that proxy added. Earlier hops were written by
    the client and are never believed."""
    request = scope_or_request
    if trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded:
            last = forwarded.split(",")[-1].strip()
            if last:
                return last[:64]
    return request.client.host if request.client else "unknown"


def is_https(request: Any, trust_forwarded_for: bool) -> bool:
    """Return whether the client reached us over HTTPS (directly, or via the trusted proxy)."""
    if request.url.scheme == "https":
        return True
    if trust_forwarded_for:
        proto = request.headers.get("x-forwarded-proto", "")
        return proto.split(",")[-1].strip().lower() == "https"
    return False
