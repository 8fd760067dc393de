"""The job queue of a remote server, over HTTP(S): long-poll claims, heartbeats, results.

Network trouble and server restarts are waited out with exponential backoff (with jitter,
so many agents do not return at the same instant); a refused token (401/403) stops the
agent, since retrying cannot help.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Any

import httpx

from app.agent.loop import AgentRefused, Job

log = logging.getLogger("advisor.agent")
BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 30.0


class HttpJobQueue:
    def __init__(self, server: str, token: str, *, environment: dict[str, Any],
                 labels: list[str] | None, stop: threading.Event, verify: bool | str = True):
        self.server = server.rstrip("/")
        self.environment = environment
        self.labels = labels or None
        self.stop = stop
        self._client = httpx.Client(base_url=self.server, verify=verify,
                                    headers={"Authorization": f"Bearer {token}"})

    def close(self) -> None:
        self._client.close()

    def _request(self, method: str, path: str, *, json: Any, timeout: float) -> httpx.Response:
        """Send until the server answers (backing off while it cannot be reached)."""
        delay = BACKOFF_START_S
        while True:
            try:
                response = self._client.request(method, path, json=json, timeout=timeout)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code in (401, 403):
                    raise AgentRefused(f"the server refused this agent ({response.status_code}: "
                                       f"{_detail(response)})")
                if response.status_code < 500 and response.status_code != 429:
                    return response
                problem = f"HTTP {response.status_code}"
            if self.stop.is_set():
                raise ConnectionError(f"stopped while the server was unreachable ({problem})")
            wait = delay * random.uniform(0.5, 1.0)
            log.warning("server %s: %s; retrying in %.1f s", self.server, problem, wait)
            self.stop.wait(wait)
            delay = min(delay * 2, BACKOFF_MAX_S)

    def claim(self, wait_s: float) -> Job | None:
        body = {"environment": self.environment, "labels": self.labels, "wait_s": wait_s}
        response = self._request("POST", "/api/v1/agent/jobs/claim", json=body,
                                 timeout=wait_s + 15)
        if response.status_code == 204:
            return None
        response.raise_for_status()
        data = response.json()
        return Job(id=data["id"], lease_id=data["lease_id"], models=data["models"],
                   frameworks=data["frameworks"], mode=data["mode"])

    def heartbeat(self, job: Job, progress: dict[str, Any] | None) -> bool:
        try:
            response = self._request("POST", f"/api/v1/agent/jobs/{job.id}/heartbeat",
                                     json={"lease_id": job.lease_id, "progress": progress},
                                     timeout=15)
        except ConnectionError:
            return True  # stopping: the run is being cancelled anyway
        return response.status_code == 204

    def finish(self, job: Job, status: str, document: dict[str, Any] | None,
               error: str | None) -> bool:
        started = time.monotonic()
        response = self._request("POST", f"/api/v1/agent/jobs/{job.id}/result",
                                 json={"lease_id": job.lease_id, "status": status,
                                       "document": document, "error": error}, timeout=60)
        if response.status_code != 204:
            log.warning("result for %s refused after %.1f s: %s", job.id,
                        time.monotonic() - started, _detail(response))
        return response.status_code == 204


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail"))
    except ValueError:
        return response.text[:200]
