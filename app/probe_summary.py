"""A readable summary table of a probe-run document, for the terminal."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from app.decision.probe_document import ProbeRunDocument


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "—"
    if value >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def print_summary(document: ProbeRunDocument, console: Console) -> None:
    """Print one row per (framework, model, variant) and the failures, if any."""
    rows: dict[tuple[str, str, str], dict[str, float]] = {}
    for m in document.measurements:
        if m.model is None or m.variant is None or m.framework == "both":
            continue
        key = (m.framework, m.model, m.variant)
        rows.setdefault(key, {})[m.metric] = m.value
        if m.metric == "latency_ms_b1" and m.stats is not None:
            rows[key]["p95"] = m.stats.p95
            rows[key]["noisy"] = float(m.noisy)
    env = document.environment
    table = Table(title=f"Probe run ({document.settings.mode}, {document.status}) on {env.cpu_model}, "
                        f"{env.threads} thread(s), {document.duration_s:.0f} s")
    for column in ("framework", "model", "variant", "p50 ms b1", "p95 ms b1", "samples/s b32",
                   "compile s", "train ms b32", "artifact KB"):
        table.add_column(column, justify="right" if " " in column else "left")
    for (framework, model, variant), v in sorted(rows.items()):
        artifact = v.get("artifact_bytes")
        table.add_row(
            framework, model, variant + (" (noisy)" if v.get("noisy") else ""),
            _fmt(v.get("latency_ms_b1")), _fmt(v.get("p95")), _fmt(v.get("throughput_sps_b32")),
            _fmt(v.get("compile_s")), _fmt(v.get("train_step_ms_b32")),
            _fmt(artifact / 1024 if artifact else None),
        )
    console.print(table)
    extra = [m for m in document.measurements if m.model is None or m.framework == "both"]
    for m in extra:
        where = f" ({m.model})" if m.model else ""
        console.print(f"{m.framework} {m.metric}{where}: {m.value:.4g} {m.unit}", highlight=False)
    for f in document.failures:
        where = "/".join(x for x in (f.framework, f.model, f.variant) if x)
        console.print(f"[red]FAILED[/] {where} [{f.stage}]: {f.reason.splitlines()[0]}",
                      highlight=False)
