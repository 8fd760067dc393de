"""The direct lane for POST /api/v1/recommendations, the route scripts and CI call for every
answer set.

FastAPI's routing, dependency and response machinery cost about as much per request as
scoring a new answer set (`advisor bench server`). This ASGI layer, inside the security
middleware (host checks, cross-site refusal and the body limit still apply), matches the one
path and method itself and answers through the route's own `recommendation_bytes`, with the
bytes and headers the route sends; bad input is answered by the app's own exception
handlers, as the route's errors are. Every other request goes on to the application
unchanged. tests/test_recommendation_lane.py compares it with the app without the lane."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi.exceptions import RequestValidationError
from starlette._utils import get_route_path  # the path the app's router matches
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.decision.errors import AnswersError
from app.web.advice import ProbeRunNotUsable
from app.web.api.recommendations import recommendation_bytes
from app.web.context import ServiceContext
from app.web.security import replay

PATH = "/api/v1/recommendations"
BAD_INPUT = (RequestValidationError, AnswersError, ProbeRunNotUsable)


class RecommendationLane:
    """Answers POST /api/v1/recommendations; passes every other request on."""

    def __init__(self, app: ASGIApp, context: ServiceContext,
                 handlers: Mapping[Any, Callable[..., Any]]):
        self.app = app
        self.context = context
        self.handlers = handlers  # the app's exception handlers (FastAPI.exception_handlers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or get_route_path(scope) != PATH:
            await self.app(scope, receive, send)
            return
        # The security middleware has read the whole body: it arrives as one message.
        message = await receive()
        if message["type"] != "http.request" or message.get("more_body", False):
            await self.app(scope, replay(message, receive), send)
            return
        try:
            found = await recommendation_bytes(self.context, message.get("body", b""))
        except BAD_INPUT as exc:
            await self._answer_error(exc, scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-length", str(len(found)).encode()),
            (b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": found})

    async def _answer_error(self, exc: Exception, scope: Scope, receive: Receive, send: Send
                            ) -> None:
        # Looked up as Starlette's exception middleware looks it up: the nearest class.
        handler = next(self.handlers[cls] for cls in type(exc).__mro__ if cls in self.handlers)
        # (The app's handlers for these are all async: app/web/main.py.)
        response = await handler(Request(scope, receive), exc)
        await response(scope, receive, send)
