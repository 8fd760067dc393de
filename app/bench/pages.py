"""`advisor bench pages`: server time of the questionnaire and report pages (median, p95),
and what a browser loads for each page (bytes of HTML, CSS, JS, fonts and the number of
requests), measured with headless Chromium against the real server."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from app.bench.harness import example_answers, running_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _server_times(client: httpx.Client, urls: list[str]) -> list[float]:
    times = []
    for url in urls:
        t0 = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        response.raise_for_status()
    return times


def _page_weight(url: str) -> tuple[int, dict[str, int]]:
    """Return (requests, bytes by kind) for one page load in Chromium."""
    from playwright.sync_api import sync_playwright

    sizes: dict[str, int] = {}
    count = 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        responses = []
        page.on("response", lambda response: responses.append(response))
        page.goto(url, wait_until="networkidle")
        for response in responses:
            count += 1
            kind = response.request.resource_type
            try:
                body = len(response.body())
            except Exception:  # noqa: BLE001 - a redirect has no body
                body = 0
            sizes[kind] = sizes.get(kind, 0) + body
        browser.close()
    return count, sizes


RECORDED = Path(__file__).resolve().parents[2] / "tests" / "data" / "probe-run-recorded.json"


def run_pages_benchmark(console: Console, samples: int = 200,
                        probe_document: Path | None = RECORDED) -> None:
    """Measure with a fresh SQLite database and print server times and page weights."""
    with running_server() as (base, _, _tmp):
        examples = example_answers()
        with httpx.Client(base_url=base) as client:
            # Reports citing a full probe run carry every chart and table, the heaviest
            # page a user gets.
            run_id = None
            if probe_document is not None and probe_document.exists():
                run_id = client.post("/api/v1/probe-runs/import",
                                     content=probe_document.read_bytes(),
                                     headers={"content-type": "application/json"}).json()["id"]
            reports = [client.post("/api/v1/reports", json={
                "answers": examples[i % len(examples)], "probe_run_id": run_id}).json()["url"]
                for i in range(samples)]
            _server_times(client, ["/"] * 20)  # warm up
            rows = [
                ("questionnaire /", _server_times(client, ["/"] * samples)),
                ("report /r/{id}, first view (rendered)", _server_times(client, reports)),
                ("report /r/{id}, repeat view (cached)", _server_times(client, reports)),
            ]
        weights = {"questionnaire /": _page_weight(base + "/"),
                   "report /r/{id}": _page_weight(base + reports[0])} \
            if Path(CHROMIUM).exists() else {}
    table = Table(title=f"Page server time over loopback, {samples} sequential requests each")
    for column in ("page", "median ms", "p95 ms", "target"):
        table.add_column(column)
    for name, times in rows:
        target = "p50 <= 20 ms" if name.startswith("report") else "—"
        table.add_row(name, f"{statistics.median(times):.2f}", f"{_percentile(times, 95):.2f}",
                      target)
    console.print(table)
    if not weights:
        console.print(f"{CHROMIUM} not found: page weight not measured")
        return
    weight_table = Table(title="What Chromium loads per page (target: < 200 KB in < 10 requests)")
    for column in ("page", "requests", "HTML KB", "CSS KB", "JS KB", "fonts KB", "other KB",
                   "total KB"):
        weight_table.add_column(column)
    for name, (count, sizes) in weights.items():
        kb = {k: v / 1024 for k, v in sizes.items()}
        other = sum(v for k, v in kb.items() if k not in ("document", "stylesheet", "script",
                                                          "font"))
        weight_table.add_row(name, str(count), f"{kb.get('document', 0):.1f}",
                             f"{kb.get('stylesheet', 0):.1f}", f"{kb.get('script', 0):.1f}",
                             f"{kb.get('font', 0):.1f}", f"{other:.1f}",
                             f"{sum(kb.values()):.1f}")
    console.print(weight_table)
