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


def _batched(row: dict[str, float], metric: str) -> str:
    if metric not in row:
        return "—"
    return f"{_fmt(row[metric])} ({row.get(metric + '_batch', 0):.0f})"


def print_summary(document: ProbeRunDocument, console: Console) -> None:
    """Print one row per (framework, model, variant) and the failures, if any."""
    rows: dict[tuple[str, str, str], dict[str, float]] = {}
    for m in document.measurements:
        if m.model is None or m.variant is None or m.framework == "both":
            continue
        key = (m.framework, m.model, m.variant)
        metric = m.metric
        # Workloads name throughput and training by their own batch (throughput_sps_b256...).
        if metric.startswith(("throughput_sps_b", "train_step_ms_b")):
            rows.setdefault(key, {})[metric.rsplit("_b", 1)[0] + "_batch"] = float(m.batch_size or 0)
            metric = metric.rsplit("_b", 1)[0]
        rows.setdefault(key, {})[metric] = m.value
        if m.metric in ("latency_ms_b1", "prefill_ms") and m.stats is not None:
            rows[key]["p95"] = m.stats.p95
            rows[key]["noisy"] = float(m.noisy)
    env = document.environment
    table = Table(title=f"Probe run ({document.settings.mode}, {document.status}) on {env.cpu_model}, "
                        f"{env.threads} thread(s), {document.duration_s:.0f} s")
    for column in ("framework", "model", "variant", "p50 ms b1", "p95 ms b1", "samples/s (batch)",
                   "compile s", "train ms (batch)", "artifact KB"):
        table.add_column(column, justify="right" if " " in column else "left")
    for (framework, model, variant), v in sorted(rows.items()):
        artifact = v.get("artifact_bytes")
        # The decoder: prefill latency in the latency columns, tokens/s as its throughput.
        latency = v.get("latency_ms_b1", v.get("prefill_ms"))
        speed = _batched(v, "throughput_sps")
        if "decode_tokens_per_s" in v:
            speed = f"{_fmt(v['decode_tokens_per_s'])} tok/s"
        table.add_row(
            framework, model, variant + (" (noisy)" if v.get("noisy") else ""),
            _fmt(latency), _fmt(v.get("p95")), speed,
            _fmt(v.get("compile_s")), _batched(v, "train_step_ms"),
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
