"""Numbers for the report and probe pages, shaped for tables and inline SVG bar charts.
Templates draw the SVG (autoescaped); this module only computes values and bar widths."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from app.decision.probe_document import Measurement, ProbeRunDocument
from app.web.wording import FRAMEWORK_LABELS, VARIANT_LABELS
from probes.plan import GENERATIVE, MODELS, SIZING, throughput_metric, train_metric

ORDER = {v: i for i, v in enumerate(
    ("eager", "compile", "export", "onnxruntime", "int8",
     "function", "xla", "savedmodel", "litert", "litert_int8"))}


@dataclass
class Bar:
    label: str
    value: float
    text: str
    fraction: float  # of the widest bar in its chart, 0..1
    framework: str
    noisy: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def variant_label(framework: str, variant: str | None) -> str:
    """Return "PyTorch torch.compile" for ("pytorch", "compile")."""
    name = FRAMEWORK_LABELS.get(framework, framework)
    return f"{name} {VARIANT_LABELS.get(variant or '', variant or '')}".strip()


def bars(items: list[tuple[str, float, str, str, bool, dict[str, Any]]]) -> list[Bar]:
    """Return bars scaled to the largest value (0 stays 0)."""
    top = max((v for _, v, *_ in items), default=0.0) or 1.0
    return [Bar(label, value, text, value / top, framework, noisy, extra)
            for label, value, text, framework, noisy, extra in items]


def score_bars(scores: dict[str, int]) -> list[Bar]:
    return bars([(FRAMEWORK_LABELS.get(name, name), float(points), f"{points} points", name, False, {})
                 for name, points in scores.items()])


def _fmt(value: float, unit: str) -> str:
    if unit == "ms":
        return f"{value:.3f} ms" if value < 10 else f"{value:,.1f} ms"
    if unit == "samples/s":
        return f"{value:,.0f}/s"
    if unit == "bytes":
        return f"{value / 1024:,.1f} KB"
    if unit == "s":
        return f"{value:.2f} s"
    return f"{value:.3g} {unit}"


def _sorted(ms: list[Measurement]) -> list[Measurement]:
    return sorted(ms, key=lambda m: (m.framework, ORDER.get(m.variant or "", 99)))


def measurement_tables(document: ProbeRunDocument) -> dict[str, Any]:
    """Return per-model charts and tables: latency percentiles, throughput, speed-ups,
    compile times, training steps, artifact sizes; plus memory, imports, parity, failures."""
    by: dict[tuple[str, str], list[Measurement]] = defaultdict(list)
    for m in document.measurements:
        if m.model is not None and m.framework != "both":
            by[(m.metric, m.model)].append(m)

    def chart(metric: str, model: str, unit: str) -> list[Bar]:
        return bars([(variant_label(m.framework, m.variant), m.value, _fmt(m.value, unit), m.framework,
                      m.noisy, {"stats": m.stats.model_dump() if m.stats else None})
                     for m in _sorted(by[(metric, model)])])

    # Each workload is measured at its own batch (probes/plan.py SIZING); the decoder
    # generates instead: prefill latency and decode tokens per second.
    def latency_metric(model: str) -> str:
        return "prefill_ms" if model in GENERATIVE else "latency_ms_b1"

    models = [m for m in MODELS if by[(latency_metric(m), m)]]
    per_model = []
    for model in models:
        latency = latency_metric(model)
        eager = {m.framework: m.value for m in by[(latency, model)] if m.variant == "eager"}
        speedups = bars([
            (variant_label(m.framework, m.variant), eager[m.framework] / m.value,
             f"{eager[m.framework] / m.value:.2f}x", m.framework, m.noisy, {})
            for m in _sorted(by[(latency, model)])
            if m.variant != "eager" and m.framework in eager and m.value > 0])
        generative = model in GENERATIVE
        sizing = SIZING[model]
        per_model.append({
            "model": model,
            "latency": chart(latency, model, "ms"),
            "latency_name": "Prefill latency" if generative else "Latency at batch 1",
            "latency_title": ("Prefill of a 128-token prompt, p50 (lower is better)" if generative
                              else "Latency at batch 1, p50 (lower is better)"),
            "throughput": chart("decode_tokens_per_s" if generative else throughput_metric(model),
                                model, "tokens/s" if generative else "samples/s"),
            "throughput_title": ("Decode tokens per second with a KV cache (higher is better)"
                                 if generative else
                                 f"Throughput at batch {sizing.batch} (higher is better)"),
            "speedups": speedups,
            "speedup_title": ("Speed-up over the framework's eager, prefill" if generative else
                              "Speed-up over the framework's eager, batch 1"),
            "compile": chart("compile_s", model, "s"),
            "training": chart(train_metric(model), model, "ms"),
            "training_title": f"Training step at batch {sizing.train_batch} (lower is better)",
            "artifacts": chart("artifact_bytes", model, "bytes"),
        })
    framework_level = {(m.framework, m.metric): m.value for m in document.measurements
                       if m.model is None}
    parity = {m.model: m.value for m in document.measurements
              if m.metric == "parity_max_abs_diff"}
    return {
        "models": per_model,
        "memory": bars([(FRAMEWORK_LABELS.get(f, f), v, f"{v:,.0f} MB", f, False, {}) for (f, metric), v in
                        sorted(framework_level.items()) if metric == "peak_rss_mb"]),
        "imports": bars([(FRAMEWORK_LABELS.get(f, f), v, f"{v:.2f} s", f, False, {}) for (f, metric), v in
                         sorted(framework_level.items()) if metric == "import_s"]),
        "parity": parity,
        "failures": document.failures,
    }
