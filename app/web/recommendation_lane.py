"""The direct lane for POST /api/v1/recommendations, the route scripts and CI call for every
answer set.

FastAPI's routing, dependency and response machinery cost about as much per request as
scoring a new answer set (`advisor bench server`). This ASGI layer, inside the security
middleware (host checks, cross-site refusal and the body limit still apply), matches the one
path and method itself and answers through the route's own `recommendation_bytes`, with the
bytes and headers the route sends. Anything else goes on to the application unchanged, and
so does bad input: the route runs again and the app's exception handlers write the errors
every client has seen (parsing and validation are pure, so running them twice changes
nothing but the time a bad request takes)."""

from __future__ import annotations

from fastapi.exceptions import RequestValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.decision.errors import AnswersError
from app.web.advice import ProbeRunNotUsable
from app.web.api.recommendations import recommendation_bytes
from app.web.context import ServiceContext

PATH = "/api/v1/recommendations"
BAD_INPUT = (RequestValidationError, AnswersError, ProbeRunNotUsable)


class RecommendationLane:
    """Answers POST /api/v1/recommendations; passes everything else (and bad input) on."""

    def __init__(self, app: ASGIApp, context: ServiceContext):
        self.app = app
        self.context = context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        # The security middleware has read the whole body: it arrives as one message.
        message = await receive()
        if message["type"] != "http.request" or message.get("more_body", False):
            await self.app(scope, _replay(message, receive), send)
            return
        try:
            found = await recommendation_bytes(self.context, message.get("body", b""))
        except BAD_INPUT:
            await self.app(scope, _replay(message, receive), send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-length", str(len(found)).encode()),
            (b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": found})


def _replay(first: Message, receive: Receive) -> Receive:
    """Return a receive that gives `first` again, then the rest of the request."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return first
        return await receive()

    return replay
