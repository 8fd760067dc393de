"""Turning a probe-run document into evidence: facts for measured rule conditions, verdicts
on the popular claims (rules/claims.yaml) and highlights for the answers given.

Every speed-up is read from the comparison the run stored (ratio of medians, bootstrap
95% interval, verdict); nothing here judges a point value. `fact` is the gate for scoring:
a fact from a contended run, a noisy series or an inconclusive comparison carries
`set_aside` with the reason in plain words, and measured conditions never hold on it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from app.decision.conditions import COMPARATORS
from app.decision.measures import METRICS, Fact, Measure, MeasureLookup, Side, WorkloadChoice
from app.decision.probe_document import (
    SMOKE_MODELS,
    WORKLOADS,
    Comparison,
    Measurement,
    ProbeRunDocument,
)
from app.decision.recommendation import (
    ClaimModelVerdict,
    ClaimVerdict,
    Evidence,
    Highlight,
    SetAside,
)
from app.decision.rule_set import Policy, RuleSet
from probes.plan import SIZING, VARIANTS, throughput_metric, train_metric

LABELS = {"pytorch": "PyTorch", "tensorflow": "TensorFlow"}
METRIC_WORDS = {
    "latency_ms_b1": "median latency at batch 1", "throughput_sps_b32": "throughput at batch 32",
    "train_step_ms_b32": "training step at batch 32", "import_s": "cold import time",
    "artifact_bytes": "size on disk", "first_call_ms": "first call", "compile_s": "compile time",
    "prefill_ms": "prefill time", "decode_tokens_per_s": "decode speed",
}
SWAP = {"faster": "slower", "slower": "faster", "tie": "tie", "inconclusive": "inconclusive"}
ALL_MODELS = SMOKE_MODELS + WORKLOADS


def _side_key(framework: str, variant: str, chosen_as: str | None = None) -> tuple[str, str]:
    return framework, chosen_as or variant


class MeasuredNumbers:
    """Answers questions about one probe run under one policy: facts, values, comparisons."""

    def __init__(self, document: ProbeRunDocument, policy: Policy):
        self.document = document
        self.policy = policy
        self._index: dict[tuple[str, str, str | None, str | None], Measurement] = {
            (m.framework, m.metric, m.variant, m.model): m for m in document.measurements
        }
        self._comparisons: dict[tuple, Comparison] = {}
        for c in document.comparisons:
            key = (c.metric, c.model, _side_key(c.candidate.framework, c.candidate.variant,
                                               c.candidate.chosen_as),
                   _side_key(c.baseline.framework, c.baseline.variant, c.baseline.chosen_as))
            self._comparisons[key] = c
        self._facts: dict[tuple[int, Any], Fact | None] = {}
        measured = {m.model for m in document.measurements if m.model}
        self.measured_models = measured
        contention = document.contention
        self.others_cores = None
        if contention is not None:
            self.others_cores = max([contention.run.others_cores]
                                    + [u.others_cores for u in contention.per_framework.values()])
        limit = policy.evidence.contended_other_cores
        self.contended = self.others_cores is not None and self.others_cores >= limit

    # -- which model speaks for the user -------------------------------------------------
    def choice(self, answers: Mapping[str, Any]) -> WorkloadChoice:
        table = self.policy.probe_model_for_family
        return table.get(str(answers.get("model_family")), table["default"])

    def model_for(self, answers: Mapping[str, Any]) -> str:
        """Return the user's workload if this run measured it, else its smoke-set model."""
        choice = self.choice(answers)
        return choice.workload if choice.workload in self.measured_models else choice.smoke

    # -- raw lookups ---------------------------------------------------------------------
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
              ) -> tuple[float, str, Measurement] | None:
        """Return (value, variant, measurement); 'best' picks the framework's best variant."""
        variants = VARIANTS[side.framework] if side.variant == "best" else (side.variant,)
        higher = METRICS[metric][1]
        metric = _at_model_batch(metric, model)
        found: list[tuple[float, str, Measurement]] = []
        for variant in variants:
            m = self.measurement(side.framework, variant, metric, model)
            if m is None:
                continue
            number = getattr(m.stats, stat) if m.stats is not None and stat != "value" else m.value
            found.append((number, variant, m))
        if not found:
            return None
        return (max if higher else min)(found, key=lambda f: f[0])

    def comparison(self, measure: Measure, model: str | None) -> Comparison | None:
        """Return the stored comparison for a speed-up, turned round if stored the other way."""
        assert measure.over is not None
        model_key = None if measure.metric == "import_s" else model
        metric = _at_model_batch(measure.metric, model)
        cand = (measure.side.framework, measure.side.variant)
        base = (measure.over.framework, measure.over.variant)
        found = self._comparisons.get((metric, model_key, cand, base))
        if found is not None:
            return found
        found = self._comparisons.get((metric, model_key, base, cand))
        if found is None:
            return None
        low, high = found.ci95
        return found.model_copy(update={
            "baseline": found.candidate, "candidate": found.baseline,
            "ratio": float(f"{1 / found.ratio:.4g}"),
            "ci95": (float(f"{1 / high:.4g}"), float(f"{1 / low:.4g}")),
            "verdict": SWAP[found.verdict],
        })

    # -- the gate ------------------------------------------------------------------------
    def set_aside_reason(self, *, noisy: bool, verdict: str | None) -> str | None:
        """Return why a fact may not score, in plain words, or None when it may."""
        ev = self.policy.evidence
        if self.contended:
            return (f"contended run: other processes kept {self.others_cores:.2f} of a core busy "
                    f"(threshold {ev.contended_other_cores:g}). {ev.contended_why.strip()}")
        if noisy:
            return f"noisy series. {ev.noisy_why.strip()}"
        if verdict == "inconclusive":
            return f"inconclusive. {ev.inconclusive_why.strip()}"
        return None

    def fact(self, measure: Measure, answers: Mapping[str, Any]) -> Fact | None:
        """Return what the run says about a measure for this user, or None if unmeasured."""
        # Flips score many answer variants against one run: each fact is made once per
        # measure (rule-set objects, alive as long as the rule set) and model family.
        key = (id(measure), answers.get("model_family"))
        try:
            return self._facts[key]
        except KeyError:
            fact = self._facts[key] = self._fact(measure, measure.model or self.model_for(answers))
            return fact

    def _fact(self, measure: Measure, model: str) -> Fact | None:
        if measure.kind == "value":
            got = self.value(measure.side, measure.metric, model, measure.stat)
            if got is None:
                return None
            number, _, m = got
            noisy = m.stats is not None and m.stats.cv >= self.policy.evidence.noisy_cv
            return Fact(value=number, model=model,
                        set_aside=self.set_aside_reason(noisy=noisy, verdict=None))
        c = self.comparison(measure, model)
        if c is None:
            return None
        noisy = self._noisy(c)
        note = None
        if c.candidate.framework != c.baseline.framework and c.rounds < 3:
            note = (f"from {c.rounds} round of fresh processes per framework (quick mode); "
                    "full mode interleaves three")
        return Fact(value=c.ratio, model=model, ci95=c.ci95, verdict=c.verdict,
                    set_aside=self.set_aside_reason(noisy=noisy, verdict=c.verdict), note=note)

    def _noisy(self, c: Comparison) -> bool:
        limit = self.policy.evidence.noisy_cv
        for side in (c.candidate, c.baseline):
            m = self.measurement(side.framework, side.variant, c.metric, c.model)
            if m is not None and m.stats is not None and m.stats.cv >= limit:
                return True
        return False

    def lookup(self, measure: Measure, answers: Mapping[str, Any]) -> Fact | None:
        return self.fact(measure, answers)


def _at_model_batch(metric: str, model: str | None) -> str:
    """Rules name throughput and training at batch 32; a workload measures them at its own
    realistic batch (probes/plan.py SIZING), which is what "at a realistic batch" means."""
    if model is None:
        return metric
    if metric == "throughput_sps_b32":
        return throughput_metric(model)
    if metric == "train_step_ms_b32":
        return train_metric(model)
    return metric


def measure_lookup(document: ProbeRunDocument | None, rule_set: RuleSet | None = None
                   ) -> MeasureLookup | None:
    """Return the lookup that measured rule conditions use, or None without a probe run.

    Without a rule set the lookup has no policy to gate by and sees nothing: measured
    conditions then never hold (pass the rule set)."""
    if document is None:
        return None
    if rule_set is None:
        return lambda measure, answers: None
    return MeasuredNumbers(document, rule_set.policy).lookup


def usable_facts(rule_set: RuleSet, answers: Mapping[str, Any], numbers: MeasuredNumbers
                 ) -> tuple[list[tuple[str, Fact]], list[SetAside]]:
    """Return, for the evidence rules, the measured facts the advice may score on and
    those it sets aside with the reason: the gate the scoring of evidence points uses."""
    usable: list[tuple[str, Fact]] = []
    aside: list[SetAside] = []
    seen: set[tuple] = set()
    for loaded in rule_set.rules:
        for measure in loaded.condition.measures:
            fact = numbers.fact(measure, answers)
            if fact is None:
                continue
            sides = sorted([(measure.side.framework, measure.side.variant)]
                           + ([(measure.over.framework, measure.over.variant)] if measure.over
                              else []))
            key = (measure.kind, measure.metric, tuple(sides), fact.model)  # one per comparison
            if key in seen:
                continue
            seen.add(key)
            what = f"{_describe(measure)} ({fact.model})"
            if fact.usable:
                usable.append((what, fact))
            else:
                assert fact.set_aside is not None
                aside.append(SetAside(what=_with_interval(what, fact), why=fact.set_aside))
    return usable, aside


def _describe(measure: Measure) -> str:
    side = f"{LABELS[measure.side.framework]} {measure.side.variant}"
    metric = METRIC_WORDS.get(measure.metric, measure.metric)
    if measure.over is None:
        return f"{side} {metric}"
    over = (measure.over.variant if measure.over.framework == measure.side.framework
            else f"{LABELS[measure.over.framework]} {measure.over.variant}")
    return f"{side} over {over}, {metric}"


def _with_interval(what: str, fact: Fact) -> str:
    if fact.ci95 is None:
        return f"{what}: {fact.value:.3g}"
    return f"{what}: {fact.value:.2f}x, 95% interval {fact.ci95[0]:.2f}-{fact.ci95[1]:.2f}"


# -- claims ------------------------------------------------------------------------------
def claim_outcome(op: str, limit: float, low: float, high: float, verdict: str) -> str:
    """Return holds / does_not_hold / inconclusive for a ratio's interval against a threshold."""
    if op in ("gt", "gte"):
        if verdict == "tie" and limit >= 1.0:
            return "does_not_hold"  # within ±5%: no meaningful gain, whatever the point value
        if COMPARATORS[op](low, limit):
            return "holds"
        if high < limit or (op == "gt" and high <= limit):
            return "does_not_hold"
        return "inconclusive"
    if verdict == "tie" and limit <= 1.0:
        return "does_not_hold"
    if COMPARATORS[op](high, limit):
        return "holds"
    if low > limit or (op == "lt" and low >= limit):
        return "does_not_hold"
    return "inconclusive"


def evaluate_claims(rule_set: RuleSet, numbers: MeasuredNumbers) -> list[ClaimVerdict]:
    """Return a verdict per claim from intervals, on the workloads the claim is about."""
    verdicts = []
    for loaded in rule_set.claims:
        claim, measure = loaded.claim, loaded.measure
        op, limit = next(iter(claim.holds_when.items()))
        if measure.model:
            models, scope = [measure.model], f"checked on {measure.model}"
        else:
            measured = [m for m in claim.workloads if m in numbers.measured_models]
            if measured:
                models, scope = measured, "checked on the representative workloads " + \
                    ", ".join(measured)
            else:
                models = list(claim.smoke)
                scope = ("only the smoke set was measured (" + ", ".join(claim.smoke) +
                         "): toy models that time framework overhead more than the workloads "
                         "this claim is about" + (f" ({', '.join(claim.workloads)})"
                                                  if claim.workloads else ""))
        rows = []
        for model in models:
            c = numbers.comparison(measure, model) if measure.kind == "speedup" else None
            if c is None:
                rows.append(ClaimModelVerdict(model=model, verdict="not_measured", value=None,
                                              detail="not measured in this run"))
                continue
            low, high = c.ci95
            outcome = claim_outcome(op, limit, low, high, c.verdict)
            caveats = []
            if numbers._noisy(c):
                caveats.append("noisy series")
            if numbers.contended:
                caveats.append("contended run")
            if c.candidate.framework != c.baseline.framework and c.rounds < 3:
                caveats.append("one round")
            detail = f"{c.ratio:.2f}x (95% interval {low:.2f}-{high:.2f})"
            if c.candidate.chosen_as == "best" or c.baseline.chosen_as == "best":
                detail += f" [{c.candidate.variant} vs {c.baseline.variant}]"
            if caveats:
                detail += "; " + ", ".join(caveats)
            rows.append(ClaimModelVerdict(model=model, verdict=outcome, value=c.ratio,
                                          ci95=list(c.ci95), detail=detail))
        kinds = {r.verdict for r in rows} - {"not_measured"}
        overall = "not_measured" if not kinds else kinds.pop() if len(kinds) == 1 else "inconclusive"
        verdicts.append(ClaimVerdict(
            id=claim.id, claim=claim.claim, measured=measure.describe(),
            threshold=f"{op} {limit:g}", verdict=overall, per_model=rows,
            why=claim.why, sources=list(claim.sources), scope=scope,
        ))
    return verdicts


# -- highlights --------------------------------------------------------------------------
def workload_summary(numbers: MeasuredNumbers, answers: Mapping[str, Any]) -> dict[str, Any]:
    """Return which model's numbers speak for the user, and how honestly they can."""
    choice = numbers.choice(answers)
    model = numbers.model_for(answers)
    family = answers.get("model_family")
    smoke_only = model != choice.workload
    others = sorted(numbers.measured_models & set(WORKLOADS))
    cpu = numbers.document.environment.cpu_model
    if smoke_only:
        measured = (f"This run measured the {', '.join(others)} workload"
                    f"{'s' if len(others) > 1 else ''} but not {choice.workload}"
                    if others else "Only the smoke set was measured")
        text = (f"{measured}: the numbers below come from the toy {model} model, which times "
                f"framework overhead more than a real {choice.workload} workload. Run the "
                f"probes with the {choice.workload} workload for numbers about your kind of "
                f"model.")
    elif choice.proxy:
        text = (f"No probe exists for {family}; the {model} workload stands in as a proxy. "
                f"{(choice.why or '').strip()}")
    else:
        text = f"Numbers from the {model} workload, the probe for your kind of model."
    return {"family": family, "model": model, "workload": choice.workload,
            "proxy": bool(choice.proxy) and not smoke_only, "smoke_only": smoke_only,
            "other_workloads": others,
            "machine": cpu, "text": f"{text} Measured on {cpu}."}


def highlights(rule_set: RuleSet, answers: Mapping[str, Any], numbers: MeasuredNumbers
               ) -> list[Highlight]:
    """Return the measured numbers that the user's answers make relevant, in plain words."""
    model = numbers.model_for(answers)
    choice = numbers.choice(answers)
    machine = numbers.document.environment.cpu_model
    what = (f"the {model} workload" + (" (a proxy)" if choice.proxy and model == choice.workload
                                        else "")
            if model in WORKLOADS else f"smoke-set {model}, a toy model")
    out: list[Highlight] = []
    best: dict[str, tuple[float, str]] = {}
    for framework in ("pytorch", "tensorflow"):
        got = numbers.value(Side(framework=framework, variant="best"), "latency_ms_b1", model, "p95")
        if got is not None:
            best[framework] = (got[0], got[1])
            out.append(Highlight(
                id=f"best-p95-{framework}",
                text=f"{LABELS[framework]} best batch-1 p95 latency, {what}: "
                     f"{got[0]:.3f} ms ({got[1]})",
                value=round(got[0], 4), unit="ms",
            ))
    budget = answers.get("latency_budget_ms")
    if budget is not None:
        for framework, (p95, variant) in best.items():
            verdict = "within" if p95 <= float(budget) else "over"
            caveat = "" if model in WORKLOADS else \
                " — a toy model: your own model will be slower"
            out.append(Highlight(
                id=f"budget-{framework}",
                text=f"{LABELS[framework]} {variant}: p95 {p95:.3f} ms is {verdict} your "
                     f"{float(budget):g} ms budget ({what}, on {machine}){caveat}",
                value=round(p95, 4), unit="ms",
            ))
    rps = answers.get("peak_requests_per_second")
    for framework in ("pytorch", "tensorflow"):
        got = numbers.value(Side(framework=framework, variant="best"), "throughput_sps_b32", model)
        if got is None or got[0] <= 0:
            continue
        batch = SIZING[model].batch if model in SIZING else 32  # the workload's own batch
        text = (f"{LABELS[framework]} best batch-{batch} throughput ({what}): {got[0]:,.0f} "
                f"samples/s ({got[1]})")
        if rps:
            machines = max(1, math.ceil(float(rps) / got[0]))
            text += f"; your peak of {float(rps):,.0f} req/s needs about {machines} machine(s) " \
                    f"like this one ({machine})"
        out.append(Highlight(id=f"throughput-{framework}", text=text, value=round(got[0], 2),
                             unit="samples/s"))
    for framework, variant, base in (("pytorch", "compile", "eager"), ("tensorflow", "xla", "eager")):
        measure = Measure(kind="speedup", side=Side(framework=framework, variant=variant),
                          over=Side(framework=framework, variant=base), metric="latency_ms_b1")
        c = numbers.comparison(measure, model)
        if c is not None:
            out.append(Highlight(
                id=f"speedup-{framework}-{variant}",
                text=f"{LABELS[framework]} {variant} vs {base} at batch 1 ({what}): "
                     f"{c.ratio:.2f}x, 95% interval {c.ci95[0]:.2f}-{c.ci95[1]:.2f} "
                     f"({_verdict_words(c.verdict)})",
                value=c.ratio, unit="x",
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


def _verdict_words(verdict: str) -> str:
    return {"faster": "faster", "slower": "slower", "tie": "a tie: within ±5%",
            "inconclusive": "inconclusive: the interval includes no difference"}[verdict]


def notes(numbers: MeasuredNumbers, workload: dict[str, Any], aside: list[SetAside]) -> list[str]:
    """Return the plain-word caveats shown with the evidence."""
    out = []
    ev = numbers.policy.evidence
    if workload["smoke_only"] and workload.get("other_workloads"):
        out.append(f"Your workload ({workload['workload']}) was not measured in this run, so "
                   f"the numbers for you come from the smoke set: toy models whose batch-1 times "
                   f"mostly measure framework dispatch.")
    elif workload["smoke_only"]:
        out.append("Smoke set only: these are toy models sized for a quick check; their batch-1 "
                   "times mostly measure framework dispatch, not your workload.")
    if numbers.contended:
        out.append(f"Contended: other programs kept {numbers.others_cores:.2f} of a CPU core busy "
                   f"while this ran (the limit is {ev.contended_other_cores:g}), so no measured "
                   "number changed the score. Re-run on a quiet machine.")
    if not numbers.document.comparisons:
        out.append("This run kept no raw samples (made by an older probe version), so no speed-up "
                   "has an interval and none can score.")
    if numbers.document.settings.rounds < 3:
        out.append("Cross-framework comparisons come from one round of fresh processes per "
                   "framework (quick mode); full mode interleaves three so that a burst of load "
                   "hits both sides.")
    if aside:
        out.append("Noisy means the repeated timings varied by 15% or more; inconclusive means "
                   "the 95% interval includes 'no difference'. Such numbers are shown but score "
                   "no points.")
    return out


def build_evidence(rule_set: RuleSet, answers: Mapping[str, Any], document: ProbeRunDocument,
                   probe_run_id: str | None, chosen: str) -> Evidence:
    """Return the evidence block of a recommendation for one probe run."""
    numbers = MeasuredNumbers(document, rule_set.policy)
    env = document.environment
    workload = workload_summary(numbers, answers)
    _, aside = usable_facts(rule_set, answers, numbers)
    return Evidence(
        probe_run_id=probe_run_id,
        chosen=chosen,
        environment={
            "cpu_model": env.cpu_model, "cores": env.cores, "threads": env.threads,
            "os": env.os, "python": env.python, "accelerators": env.accelerators,
            "frameworks": {k: v.version for k, v in env.frameworks.items()},
            "mode": document.settings.mode, "rounds": document.settings.rounds,
            "finished_at": document.finished_at.isoformat(),
        },
        highlights=highlights(rule_set, answers, numbers),
        claims=evaluate_claims(rule_set, numbers),
        workload=workload,
        contended=numbers.contended,
        set_aside=aside,
        notes=notes(numbers, workload, aside),
    )
