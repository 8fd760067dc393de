"""uvicorn's fast HTTP protocol (httptools) with a bound on the request head.

h11 bounds the head (h11_max_incomplete_event_size) but parses in Python, at about half the
requests per second; httptools reads headers of any size (a 60 MB header was accepted).
This subclass counts the bytes received while a request's head is incomplete and answers
431 once they pass the limit, which it takes from the same uvicorn setting
(ADVISOR_MAX_HEADER_BYTES through `advisor serve`)."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

TOO_LARGE = (b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain\r\n"
             b"content-length: 32\r\nconnection: close\r\n\r\nrequest head larger than allowed")


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that refuses a request head over `h11_max_incomplete_event_size`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._head_bytes = 0
        self._reading_head = True
        super().connection_made(transport)

    def on_message_begin(self) -> None:
        self._head_bytes = 0
        self._reading_head = True
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._reading_head = False
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self._reading_head or self.transport.is_closing():
            return
        # The head is still incomplete after this chunk: all of it counts (the parser keeps
        # a partial header in memory, so this also bounds memory to the limit plus a chunk).
        self._head_bytes += len(data)
        if self._head_bytes > self.config.h11_max_incomplete_event_size:
            self.transport.write(TOO_LARGE)
            self.transport.close()


def http_protocol() -> Any:
    """Return the protocol `advisor serve` gives uvicorn: bounded httptools, else h11 (which
    bounds the head itself)."""
    try:
        import httptools  # noqa: F401
    except ImportError:
        return "h11"
    return BoundedHttpToolsProtocol
