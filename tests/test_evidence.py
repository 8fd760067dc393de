"""Evidence: measured rule conditions, claim verdicts and highlights, on a fixed recorded
probe document (tests/data/probe-run-recorded.json, a quick run on a 2-core machine)."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest

from app.decision.conditions import COMPARATORS
from app.decision.evidence import MeasuredNumbers
from app.decision.measures import Measure, Side
from app.decision.probe_document import ProbeRunDocument
from app.decision.probe_io import read_probe_document
from app.decision.questionnaire import validate_answers
from app.decision.scoring import score_answers
from tests.conftest import base_answers

RECORDED = Path(__file__).parent / "data" / "probe-run-recorded.json"


@pytest.fixture(scope="module")
def recorded() -> ProbeRunDocument:
    return read_probe_document(RECORDED)


def scaled(document: ProbeRunDocument, framework: str, variant: str | None, metric: str,
           factor: float) -> ProbeRunDocument:
    """Return a copy where one series of numbers is multiplied by factor."""
    data = copy.deepcopy(document.to_json())
    for m in data["measurements"]:
        if (m["framework"], m["variant"], m["metric"]) == (framework, variant, metric):
            m["value"] *= factor
            if m["stats"]:
                for key in ("p50", "p90", "p95", "p99", "mean"):
                    m["stats"][key] *= factor
    return ProbeRunDocument.model_validate(data)


def dropped(document: ProbeRunDocument, metric: str) -> ProbeRunDocument:
    data = copy.deepcopy(document.to_json())
    data["measurements"] = [m for m in data["measurements"] if m["metric"] != metric]
    return ProbeRunDocument.model_validate(data)


def test_claims_are_judged_from_the_numbers_in_the_document(rule_set, recorded):
    rec = score_answers(rule_set, validate_answers(rule_set.questionnaire, base_answers()),
                        recorded, probe_run_id="recorded")
    numbers = MeasuredNumbers(recorded)
    assert [c.id for c in rec.evidence.claims] == [c.claim.id for c in rule_set.claims]
    for verdict, loaded in zip(rec.evidence.claims, rule_set.claims, strict=True):
        op, limit = next(iter(loaded.claim.holds_when.items()))
        per_model = numbers.per_model(loaded.measure)
        assert per_model, verdict.id  # every claim is measurable from a full quick run
        expected = {"holds" if COMPARATORS[op](v, limit) else "does_not_hold"
                    for v in per_model.values()}
        assert verdict.verdict == (expected.pop() if len(expected) == 1 else "mixed")
        for row in verdict.per_model:
            assert math.isclose(row.value, per_model[row.model], rel_tol=1e-3)


def test_torch_compile_speedup_is_eager_time_over_compiled_time(recorded):
    numbers = MeasuredNumbers(recorded)
    measure = Measure(kind="speedup", side=Side(framework="pytorch", variant="compile"),
                      over=Side(framework="pytorch", variant="eager"), metric="latency_ms_b1")
    eager = recorded.find("pytorch", "latency_ms_b1", "eager", "mlp").value
    compiled = recorded.find("pytorch", "latency_ms_b1", "compile", "mlp").value
    assert numbers.per_model(measure)["mlp"] == pytest.approx(eager / compiled)


def test_claims_without_measurements_are_not_measured(rule_set, recorded):
    doc = dropped(recorded, "artifact_bytes")
    rec = score_answers(rule_set, validate_answers(rule_set.questionnaire, base_answers()), doc)
    verdicts = {c.id: c.verdict for c in rec.evidence.claims}
    assert verdicts["litert-int8-shrinks-models"] == "not_measured"


def fired(rule_set, raw, document) -> set[str]:
    rec = score_answers(rule_set, validate_answers(rule_set.questionnaire, raw), document)
    return {r.rule_id for r in rec.reasons}


@pytest.mark.parametrize(
    ("rule_id", "answers", "change"),
    [
        ("measured-compile-speedup", {"priorities": ["low_latency"]},
         ("pytorch", "compile", "latency_ms_b1", 0.2)),
        ("measured-tensorflow-throughput-lead", {"priorities": ["inference_throughput"]},
         ("tensorflow", "litert", "throughput_sps_b32", 10)),
        ("measured-pytorch-throughput-lead", {"priorities": ["inference_throughput"]},
         ("pytorch", "onnxruntime", "throughput_sps_b32", 10)),
        ("measured-pytorch-latency-lead", {"priorities": ["low_latency"]},
         ("pytorch", "onnxruntime", "latency_ms_b1", 0.1)),
        ("measured-tensorflow-latency-lead", {"priorities": ["low_latency"]},
         ("tensorflow", "litert", "latency_ms_b1", 0.1)),
        ("measured-serverless-import", {"deployment_targets": ["serverless"]},
         ("pytorch", None, "import_s", 0.1)),
        ("measured-litert-smaller-artifacts", {"priorities": ["small_footprint"]},
         ("tensorflow", "litert_int8", "artifact_bytes", 0.1)),
        ("measured-pytorch-faster-training", {"priorities": ["iteration_speed"]},
         ("pytorch", "eager", "train_step_ms_b32", 0.1)),
        ("measured-tensorflow-faster-training", {"priorities": ["iteration_speed"]},
         ("tensorflow", "eager", "train_step_ms_b32", 0.01)),
    ],
)
def test_evidence_rule_fires_on_its_measurement_and_only_with_it(rule_set, recorded, rule_id,
                                                                 answers, change):
    raw = {**base_answers(), **answers}
    framework, variant, metric, factor = change
    document = scaled(recorded, framework, variant, metric, factor)
    assert rule_id in fired(rule_set, raw, document)
    assert rule_id not in fired(rule_set, raw, None)
    assert rule_id not in fired(rule_set, raw, dropped(document, metric))


def test_every_evidence_rule_is_covered_by_a_test(rule_set):
    evidence_rules = {r.rule.id for r in rule_set.rules if r.condition.measures}
    cases = test_evidence_rule_fires_on_its_measurement_and_only_with_it.pytestmark[0].args[1]
    tested = {case[0] for case in cases}
    assert evidence_rules == tested


def test_latency_budget_is_compared_with_measured_p95(rule_set, recorded):
    raw = {**base_answers(), "model_family": "vision_cnn", "latency_budget_ms": 0.1}
    rec = score_answers(rule_set, validate_answers(rule_set.questionnaire, raw), recorded)
    texts = {h.id: h.text for h in rec.evidence.highlights}
    numbers = MeasuredNumbers(recorded)
    for framework in ("pytorch", "tensorflow"):
        p95, variant = numbers.value(Side(framework=framework, variant="best"), "latency_ms_b1",
                                     "cnn", "p95")
        verdict = "within" if p95 <= 0.1 else "over"
        assert f"is {verdict} your 0.1 ms budget" in texts[f"budget-{framework}"]
        assert variant in texts[f"budget-{framework}"]
    assert "parity" in texts


def test_no_probe_run_means_no_evidence(rule_set):
    rec = score_answers(rule_set, validate_answers(rule_set.questionnaire, base_answers()))
    assert rec.evidence is None
