"""The comparisons a probe run stores (spec §5): each variant over its framework's eager,
XLA over plain graphs, and TensorFlow over PyTorch at the same metric and model (eager,
best variant, the portable runtimes), each as a ratio of medians with a bootstrap 95%
interval and a verdict (app.decision.statistics). Made once per run, so scoring a request
only reads them."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from app.decision.measures import METRICS
from app.decision.statistics import compare
from probes.plan import throughput_metric, train_metric

TIMED = ("latency_ms_b1", "throughput_sps_b32", "train_step_ms_b32", "prefill_ms",
         "decode_tokens_per_s")


def _timed_for(model: str) -> tuple[str, ...]:
    # Workloads measure throughput and training at their own batch (probes/plan.py SIZING).
    return tuple(dict.fromkeys(("latency_ms_b1", throughput_metric(model), train_metric(model),
                                "prefill_ms", "decode_tokens_per_s")))
# Pairs within one framework beyond "each variant over eager": (framework, candidate, baseline).
WITHIN = (("tensorflow", "xla", "function"),)
# Cross-framework pairs: (metric or None for every timed metric, tensorflow side, pytorch side).
CROSS = ((None, "eager", "eager"), (None, "best", "best"),
         ("latency_ms_b1", "litert", "onnxruntime"), ("throughput_sps_b32", "litert", "onnxruntime"))
# A verdict needs a few samples per side; sizes on disk are exact, one is enough.
MIN_SAMPLES = 3
EXACT = {"artifact_bytes"}

def higher_is_better(metric: str) -> bool:
    return METRICS[metric][1] if metric in METRICS else metric.startswith(("throughput_", "decode_"))


Key = tuple[str, str | None, str | None, str]  # framework, model, variant, metric


def _pooled(m: dict) -> list[list[float]]:
    return [list(r) for r in (m.get("samples") or []) if r]


def _usable(m: dict | None, metric: str) -> bool:
    if m is None:
        return False
    n = sum(len(r) for r in _pooled(m))
    return n >= (1 if metric in EXACT else MIN_SAMPLES)


def _best(index: dict[Key, dict], framework: str, model: str | None, metric: str) -> str | None:
    higher = higher_is_better(metric)
    found = [(float(np.median(np.concatenate(_pooled(m)))), k[2])
             for k, m in index.items()
             if (k[0], k[1], k[3]) == (framework, model, metric) and _usable(m, metric)]
    if not found:
        return None
    return (max(found) if higher else min(found))[1]


def _entry(index: dict[Key, dict], metric: str, model: str | None, cand: tuple[str, str | None],
           base: tuple[str, str | None], labels: tuple[str | None, str | None] = (None, None)
           ) -> dict | None:
    c = index.get((cand[0], model, cand[1], metric))
    b = index.get((base[0], model, base[1], metric))
    if not (_usable(c, metric) and _usable(b, metric)):
        return None
    assert c is not None and b is not None
    result = compare(_pooled(b), _pooled(c), higher_is_better=higher_is_better(metric))
    rounds = min(len(_pooled(b)), len(_pooled(c)))

    def side(who: tuple[str, str | None], label: str | None) -> dict:
        return {"framework": who[0], "variant": who[1] or "eager", "chosen_as": label}

    return {"metric": metric, "model": model, "baseline": side(base, labels[1]),
            "candidate": side(cand, labels[0]), "ratio": result.ratio, "ci95": list(result.ci95),
            "verdict": result.verdict, "rounds": rounds, "n_baseline": result.n_baseline,
            "n_candidate": result.n_candidate,
            "noisy": bool(b.get("noisy")) or bool(c.get("noisy"))}


def comparisons(measurements: Iterable[dict], variants: dict[str, tuple[str, ...]]) -> list[dict]:
    """Return every comparison the evidence and the claims read, for the measured models."""
    index: dict[Key, dict] = {(m["framework"], m["model"], m["variant"], m["metric"]): m
                              for m in measurements if m.get("samples")}
    models = sorted({k[1] for k in index if k[1] is not None})
    out: list[dict | None] = []
    for model in models:
        for metric in _timed_for(model):
            for framework, names in variants.items():
                for variant in names:
                    if variant != "eager":
                        out.append(_entry(index, metric, model, (framework, variant),
                                          (framework, "eager")))
            for framework, cand, base in WITHIN:
                out.append(_entry(index, metric, model, (framework, cand), (framework, base)))
            for only, tf_side, pt_side in CROSS:
                if only not in (None, metric):
                    continue
                if tf_side == "best":
                    tf_best = _best(index, "tensorflow", model, metric)
                    pt_best = _best(index, "pytorch", model, metric)
                    if tf_best and pt_best:
                        out.append(_entry(index, metric, model, ("tensorflow", tf_best),
                                          ("pytorch", pt_best), ("best", "best")))
                else:
                    out.append(_entry(index, metric, model, ("tensorflow", tf_side),
                                      ("pytorch", pt_side)))
        out.append(_entry(index, "artifact_bytes", model, ("tensorflow", "litert_int8"),
                          ("tensorflow", "litert")))
        out.append(_entry(index, "artifact_bytes", model, ("tensorflow", "litert_int8"),
                          ("pytorch", "int8")))
    out.append(_entry(index, "import_s", None, ("tensorflow", None), ("pytorch", None)))
    return [c for c in out if c is not None]
