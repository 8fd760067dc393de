"""The real server with an event-loop lag probe, for `advisor bench stall`.

Runs the application exactly as `advisor serve` configures uvicorn (bounded httptools, no
proxy headers), plus one task on the same event loop that sleeps 2 ms over and over and
records how late it wakes: the lateness is the time the loop could not run anything (a
blocking call on the loop, or the GIL held by a worker thread's C code). GET /_bench/lag
returns the worst lateness since the last call and resets it. Never used by `serve`."""

from __future__ import annotations

import asyncio
import sys
import time

import uvicorn

from app.settings import Settings
from app.web.http_protocol import http_protocol
from app.web.main import create_app

TICK_S = 0.002


async def serve(port: int) -> None:
    settings = Settings()
    app = create_app(settings)
    worst = [0.0]

    async def lag() -> dict[str, float]:
        found, worst[0] = worst[0], 0.0
        return {"worst_lag_ms": round(found * 1000, 1)}

    app.add_api_route("/_bench/lag", lag, methods=["GET"], include_in_schema=False)
    app.router.routes.insert(0, app.router.routes.pop())  # before the page routes

    async def watch() -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(TICK_S)
            worst[0] = max(worst[0], time.perf_counter() - started - TICK_S)

    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            access_log=False, proxy_headers=False, http=http_protocol(),
                            h11_max_incomplete_event_size=settings.max_header_bytes)
    watcher = asyncio.get_running_loop().create_task(watch())
    await uvicorn.Server(config).serve()
    watcher.cancel()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
