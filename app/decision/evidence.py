"""Turning a probe-run document into evidence: a lookup for measured rule conditions,
verdicts on the popular claims (rules/claims.yaml) and highlights for the answers given."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from app.decision.conditions import COMPARATORS
from app.decision.measures import METRICS, VARIANTS, Measure, MeasureLookup, Side
from app.decision.probe_document import Measurement, ProbeRunDocument
from app.decision.recommendation import ClaimModelVerdict, ClaimVerdict, Evidence, Highlight
from app.decision.rule_set import RuleSet
from probes.plan import MODELS

LABELS = {"pytorch": "PyTorch", "tensorflow": "TensorFlow"}


class MeasuredNumbers:
    """Answers questions about one probe run: values, best variants and speed-ups."""

    def __init__(self, document: ProbeRunDocument):
        self.document = document
        self._index: dict[tuple[str, str, str | None, str | None], Measurement] = {
            (m.framework, m.metric, m.variant, m.model): m for m in document.measurements
        }
        # The models this run set out to measure (issue 10a: the smoke set or workloads).
        self.models = [m for m in MODELS if m in document.settings.models]

    def measurement(self, framework: str, variant: str | None, metric: str, model: str | None
                    ) -> Measurement | None:
        """Return the most specific measurement: per model and variant, else per framework."""
        for key in (
            (framework, metric, variant, model),
            (framework, metric, variant, None),
            (framework, metric, None, None),
        ):
            found = self._index.get(key)
            if found is not None:
                return found
        return None

    def value(self, side: Side, metric: str, model: str | None, stat: str = "p50"
              ) -> tuple[float, str] | None:
        """Return (value, variant) for a side; 'best' picks the framework's best variant."""
        variants = VARIANTS[side.framework] if side.variant == "best" else (side.variant,)
        higher = METRICS[metric][1]
        found: list[tuple[float, str]] = []
        for variant in variants:
            m = self.measurement(side.framework, variant, metric, model)
            if m is None:
                continue
            number = getattr(m.stats, stat) if m.stats is not None and stat != "value" else m.value
            found.append((number, variant))
        if not found:
            return None
        return max(found) if higher else min(found)

    def per_model(self, measure: Measure) -> dict[str, float]:
        """Return the measure for each model where both sides were measured."""
        out: dict[str, float] = {}
        for model in [measure.model] if measure.model else self.models:
            got = self.value(measure.side, measure.metric, model, measure.stat)
            if got is None:
                continue
            if measure.kind == "value":
                out[model] = got[0]
                continue
            assert measure.over is not None
            base = self.value(measure.over, measure.metric, model, measure.stat)
            if base is None or got[0] <= 0 or base[0] <= 0:
                continue
            ratio = got[0] / base[0] if measure.higher_is_better else base[0] / got[0]
            out[model] = ratio
        return out

    def lookup(self, measure: Measure) -> float | None:
        """Return the measure over all models (geometric mean), or None if unmeasured."""
        values = [v for v in self.per_model(measure).values() if v > 0]
        if not values:
            return None
        return math.exp(sum(math.log(v) for v in values) / len(values))


def measure_lookup(document: ProbeRunDocument | None) -> MeasureLookup | None:
    """Return the lookup that measured rule conditions use, or None without a probe run."""
    return None if document is None else MeasuredNumbers(document).lookup


def evaluate_claims(rule_set: RuleSet, numbers: MeasuredNumbers) -> list[ClaimVerdict]:
    """Return a verdict per claim: holds, does_not_hold, mixed or not_measured, with numbers."""
    verdicts = []
    for loaded in rule_set.claims:
        claim, measure = loaded.claim, loaded.measure
        op, limit = next(iter(claim.holds_when.items()))
        per_model = numbers.per_model(measure)
        rows = []
        for model in [measure.model] if measure.model else numbers.models:
            value = per_model.get(model)
            if value is None:
                rows.append(ClaimModelVerdict(model=model, verdict="not_measured", value=None,
                                              detail="not measured in this run"))
                continue
            holds = COMPARATORS[op](value, limit)
            noisy = _noisy(numbers, measure, model)
            rows.append(ClaimModelVerdict(
                model=model,
                verdict="holds" if holds else "does_not_hold",
                value=round(value, 4),
                detail=f"{value:.2f}x" + (" (noisy measurement)" if noisy else ""),
            ))
        kinds = {r.verdict for r in rows} - {"not_measured"}
        overall = "not_measured" if not kinds else kinds.pop() if len(kinds) == 1 else "mixed"
        verdicts.append(ClaimVerdict(
            id=claim.id, claim=claim.claim, measured=measure.describe(),
            threshold=f"{op} {limit:g}", verdict=overall, per_model=rows,
            why=claim.why, sources=list(claim.sources),
        ))
    return verdicts


def _noisy(numbers: MeasuredNumbers, measure: Measure, model: str) -> bool:
    sides = [measure.side] + ([measure.over] if measure.over else [])
    for side in sides:
        got = numbers.value(side, measure.metric, model, measure.stat)
        if got is None:
            continue
        m = numbers.measurement(side.framework, got[1], measure.metric, model)
        if m is not None and m.noisy:
            return True
    return False


def highlights(rule_set: RuleSet, answers: Mapping[str, Any], numbers: MeasuredNumbers
               ) -> list[Highlight]:
    """Return the measured numbers that the user's answers make relevant, in plain words."""
    family = answers.get("model_family")
    model = rule_set.policy.probe_model_for_family.get(str(family), "mlp")
    out: list[Highlight] = []
    best: dict[str, tuple[float, str]] = {}
    for framework in ("pytorch", "tensorflow"):
        got = numbers.value(Side(framework=framework, variant="best"), "latency_ms_b1", model, "p95")
        if got is not None:
            best[framework] = got
            out.append(Highlight(
                id=f"best-p95-{framework}",
                text=f"{LABELS[framework]} best batch-1 p95 latency for the {model} probe model: "
                     f"{got[0]:.3f} ms ({got[1]})",
                value=round(got[0], 4), unit="ms",
            ))
    budget = answers.get("latency_budget_ms")
    if budget is not None:
        for framework, (p95, variant) in best.items():
            verdict = "within" if p95 <= float(budget) else "over"
            out.append(Highlight(
                id=f"budget-{framework}",
                text=f"{LABELS[framework]} {variant}: p95 {p95:.3f} ms is {verdict} your "
                     f"{float(budget):g} ms budget (probe model {model}, this machine)",
                value=round(p95, 4), unit="ms",
            ))
    rps = answers.get("peak_requests_per_second")
    for framework in ("pytorch", "tensorflow"):
        got = numbers.value(Side(framework=framework, variant="best"), "throughput_sps_b32", model)
        if got is None:
            continue
        text = (f"{LABELS[framework]} best batch-32 throughput ({model}): {got[0]:,.0f} samples/s "
                f"({got[1]})")
        if rps:
            text += f"; your peak of {float(rps):,.0f} req/s needs about " \
                    f"{max(1, math.ceil(float(rps) / got[0]))} machine(s) like this one"
        out.append(Highlight(id=f"throughput-{framework}", text=text, value=round(got[0], 2),
                             unit="samples/s"))
    for framework, variant, base in (("pytorch", "compile", "eager"), ("tensorflow", "xla", "eager")):
        per = numbers.per_model(Measure(kind="speedup", side=Side(framework=framework, variant=variant),
                                        over=Side(framework=framework, variant=base),
                                        metric="latency_ms_b1"))
        if model in per:
            out.append(Highlight(
                id=f"speedup-{framework}-{variant}",
                text=f"{LABELS[framework]} {variant} vs {base} at batch 1 ({model}): "
                     f"{per[model]:.2f}x",
                value=round(per[model], 3), unit="x",
            ))
    for framework in ("pytorch", "tensorflow"):
        m = numbers.measurement(framework, None, "import_s", None)
        if m is not None:
            out.append(Highlight(id=f"import-{framework}",
                                 text=f"Cold import of {LABELS[framework]}: {m.value:.2f} s",
                                 value=round(m.value, 3), unit="s"))
    parity = numbers.measurement("both", "eager", "parity_max_abs_diff", model)
    if parity is not None:
        out.append(Highlight(
            id="parity",
            text=f"Same weights, same input ({model}): outputs differ by at most {parity.value:.2e}",
            value=parity.value, unit="abs",
        ))
    return out


def build_evidence(rule_set: RuleSet, answers: Mapping[str, Any], document: ProbeRunDocument,
                   probe_run_id: str | None, chosen: str) -> Evidence:
    """Return the evidence block of a recommendation for one probe run."""
    numbers = MeasuredNumbers(document)
    env = document.environment
    return Evidence(
        probe_run_id=probe_run_id,
        chosen=chosen,
        environment={
            "cpu_model": env.cpu_model, "cores": env.cores, "threads": env.threads,
            "os": env.os, "python": env.python, "accelerators": env.accelerators,
            "frameworks": {k: v.version for k, v in env.frameworks.items()},
            "mode": document.settings.mode, "finished_at": document.finished_at.isoformat(),
        },
        highlights=highlights(rule_set, answers, numbers),
        claims=evaluate_claims(rule_set, numbers),
    )
