"""Evidence from a recorded probe run (smoke set, quick mode, made by a real run on this
busy machine): claims judged from intervals, rules that fire on a verdict only when the
numbers are usable, what is set aside and why, and highlights about the user's workload."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.decision.evidence import MeasuredNumbers, claim_outcome
from app.decision.measures import Measure, Side
from app.decision.probe_document import ProbeRunDocument
from app.decision.probe_io import read_probe_document
from app.decision.questionnaire import validate_answers
from app.decision.scoring import score_answers
from tests.conftest import base_answers
from tests.evidence_docs import derive, drop, scale

RECORDED = Path(__file__).parent / "data" / "probe-run-recorded.json"


@pytest.fixture(scope="module")
def recorded() -> ProbeRunDocument:
    return read_probe_document(RECORDED)


@pytest.fixture(scope="module")
def quiet(recorded) -> ProbeRunDocument:
    return derive(recorded)


def recommend(rule_set, raw, document):
    return score_answers(rule_set, validate_answers(rule_set.questionnaire, raw), document)


def test_recorded_run_keeps_samples_and_comparisons_with_intervals(recorded):
    timed = [m for m in recorded.measurements if m.metric == "latency_ms_b1"]
    assert timed and all(m.samples and len(m.samples[0]) >= 1 for m in timed)
    assert recorded.comparisons
    for c in recorded.comparisons:
        assert c.ci95[0] <= c.ci95[1] and c.verdict in ("faster", "slower", "tie", "inconclusive")
    assert recorded.contention is not None


def test_claims_are_judged_from_the_interval(rule_set, quiet):
    rec = recommend(rule_set, base_answers(), quiet)
    numbers = MeasuredNumbers(quiet, rule_set.policy)
    assert [c.id for c in rec.evidence.claims] == [c.claim.id for c in rule_set.claims]
    judged = 0
    for verdict, loaded in zip(rec.evidence.claims, rule_set.claims, strict=True):
        op, limit = next(iter(loaded.claim.holds_when.items()))
        assert "only the smoke set" in verdict.scope  # the recorded run has no workloads
        for row in verdict.per_model:
            c = numbers.comparison(loaded.measure, row.model)
            if c is None:
                assert row.verdict == "not_measured"
                continue
            judged += 1
            assert row.verdict == claim_outcome(op, limit, c.ci95[0], c.ci95[1], c.verdict)
            assert row.ci95 == list(c.ci95)
    assert judged >= 10


def test_claim_outcomes_follow_the_interval_not_the_point():
    assert claim_outcome("gte", 1.3, 1.35, 1.6, "faster") == "holds"
    assert claim_outcome("gte", 1.3, 1.1, 1.6, "faster") == "inconclusive"  # point may be 1.4
    assert claim_outcome("gte", 1.3, 1.0, 1.25, "inconclusive") == "does_not_hold"
    assert claim_outcome("gt", 1.0, 0.97, 1.03, "tie") == "does_not_hold"
    assert claim_outcome("gt", 1.0, 0.9, 1.2, "inconclusive") == "inconclusive"


def test_speedup_is_a_ratio_of_medians(rule_set, quiet):
    numbers = MeasuredNumbers(quiet, rule_set.policy)
    measure = Measure(kind="speedup", side=Side(framework="pytorch", variant="compile"),
                      over=Side(framework="pytorch", variant="eager"), metric="latency_ms_b1")
    eager = quiet.find("pytorch", "latency_ms_b1", "eager", "mlp").samples
    compiled = quiet.find("pytorch", "latency_ms_b1", "compile", "mlp").samples
    expected = np.median(np.concatenate(eager)) / np.median(np.concatenate(compiled))
    assert numbers.comparison(measure, "mlp").ratio == pytest.approx(expected, rel=1e-3)
    turned = Measure(kind="speedup", side=Side(framework="pytorch", variant="eager"),
                     over=Side(framework="pytorch", variant="compile"), metric="latency_ms_b1")
    assert numbers.comparison(turned, "mlp").ratio == pytest.approx(1 / expected, rel=2e-3)


def test_claims_without_measurements_are_not_measured(rule_set, recorded):
    rec = recommend(rule_set, base_answers(), derive(recorded, drop("artifact_bytes")))
    verdicts = {c.id: c.verdict for c in rec.evidence.claims}
    assert verdicts["litert-int8-shrinks-models"] == "not_measured"


def fired(rule_set, raw, document) -> set[str]:
    return {r.rule_id for r in recommend(rule_set, raw, document).reasons}


CASES = [
    ("measured-compile-speedup", {"priorities": ["low_latency"]},
     ("pytorch", "compile", "latency_ms_b1", 0.05)),
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
]


@pytest.mark.parametrize(("rule_id", "answers", "change"), CASES)
def test_evidence_rule_fires_on_a_usable_verdict_and_only_then(rule_set, recorded, rule_id,
                                                               answers, change):
    raw = {**base_answers(), **answers}
    framework, variant, metric, factor = change
    assert rule_id in fired(rule_set, raw, derive(recorded, scale(*change)))
    assert rule_id not in fired(rule_set, raw, None)
    assert rule_id not in fired(rule_set, raw, derive(recorded, drop(metric)))
    # the same numbers from a contended run score nothing, and the report says why
    contended = derive(recorded, scale(*change), quiet=False)
    if contended.contention is None or not contended.contention.contended:
        contended = _contended(contended)
    rec = recommend(rule_set, raw, contended)
    assert rule_id not in {r.rule_id for r in rec.reasons}
    assert any("contended run" in s.why for s in rec.evidence.set_aside)
    assert rec.evidence.contended
    # and so does a noisy series
    noisy = derive(recorded, scale(*change), steady=False)
    if _fact(rule_set, rule_id, raw, noisy).set_aside:
        assert rule_id not in fired(rule_set, raw, noisy)


def _contended(document: ProbeRunDocument) -> ProbeRunDocument:
    data = document.to_json()
    data["contention"]["run"]["others_cores"] = 1.5
    data["contention"]["contended"] = True
    return ProbeRunDocument.model_validate(data)


def _fact(rule_set, rule_id, raw, document):
    loaded = next(r for r in rule_set.rules if r.rule.id == rule_id)
    numbers = MeasuredNumbers(document, rule_set.policy)
    return numbers.fact(loaded.condition.measures[0], raw)


def test_two_draws_of_one_series_never_score(rule_set, recorded):
    # PyTorch's best throughput series copied onto TensorFlow's: the same distribution on
    # both sides must not give either framework a lead, whatever the point values say.
    def same(data):
        src = {m["model"]: m for m in data["measurements"]
               if (m["framework"], m["variant"], m["metric"]) ==
               ("pytorch", "onnxruntime", "throughput_sps_b32")}
        for m in data["measurements"]:
            if m["framework"] == "tensorflow" and m["metric"] == "throughput_sps_b32":
                m["samples"] = [list(reversed(r)) for r in src[m["model"]]["samples"]]
            elif m["framework"] == "pytorch" and m["metric"] == "throughput_sps_b32" \
                    and m["variant"] != "onnxruntime":
                m["samples"] = [[x * 0.5 for x in r] for r in m["samples"]]
    doc = derive(recorded, same)
    raw = {**base_answers(), "priorities": ["inference_throughput"]}
    rules = fired(rule_set, raw, doc)
    assert "measured-tensorflow-throughput-lead" not in rules
    assert "measured-pytorch-throughput-lead" not in rules


def test_every_evidence_rule_is_covered_by_a_test(rule_set):
    evidence_rules = {r.rule.id for r in rule_set.rules if r.condition.measures}
    assert evidence_rules == {case[0] for case in CASES}


def test_budget_uses_the_users_workload_and_names_the_machine(rule_set, quiet):
    raw = {**base_answers(), "model_family": "vision_cnn", "latency_budget_ms": 0.1}
    rec = recommend(rule_set, raw, quiet)
    texts = {h.id: h.text for h in rec.evidence.highlights}
    numbers = MeasuredNumbers(quiet, rule_set.policy)
    for framework in ("pytorch", "tensorflow"):
        p95, variant, _ = numbers.value(Side(framework=framework, variant="best"),
                                        "latency_ms_b1", "cnn", "p95")
        text = texts[f"budget-{framework}"]
        assert f"is {'within' if p95 <= 0.1 else 'over'} your 0.1 ms budget" in text
        assert variant in text and quiet.environment.cpu_model in text
        assert "smoke-set cnn, a toy model" in text
    workload = rec.evidence.workload
    assert workload["smoke_only"] and workload["workload"] == "vision" and workload["model"] == "cnn"
    assert any(n.startswith("Smoke set only") for n in rec.evidence.notes)


def test_a_measured_workload_is_used_first_and_a_proxy_is_named(rule_set, quiet):
    # Relabel the smoke cnn as the vision workload: the same numbers then speak for
    # vision teams, and for diffusion teams as a named proxy.
    data = quiet.to_json()
    for item in data["measurements"] + data["failures"] + data["comparisons"]:
        if item.get("model") == "cnn":
            item["model"] = "vision"
    doc = ProbeRunDocument.model_validate(data)
    rec = recommend(rule_set, {**base_answers(), "model_family": "diffusion"}, doc)
    assert rec.evidence.workload["model"] == "vision" and rec.evidence.workload["proxy"]
    assert "proxy" in rec.evidence.workload["text"]
    assert not rec.evidence.workload["smoke_only"]
    texts = " ".join(h.text for h in rec.evidence.highlights)
    assert "vision workload (a proxy)" in texts
    # A tabular team: this run measured the vision workload, not tabular. The report says
    # so, rather than "smoke set only", and the tabular team's numbers are the smoke mlp's.
    rec = recommend(rule_set, {**base_answers(), "model_family": "tabular"}, doc)
    workload = rec.evidence.workload
    assert workload["smoke_only"] and workload["model"] == "mlp"
    assert "measured the vision workload but not tabular" in workload["text"]
    assert any("Your workload (tabular) was not measured" in n for n in rec.evidence.notes)
    assert not any(n.startswith("Smoke set only") for n in rec.evidence.notes)


def test_no_probe_run_means_no_evidence(rule_set):
    rec = score_answers(rule_set, validate_answers(rule_set.questionnaire, base_answers()))
    assert rec.evidence is None


def test_each_target_is_scored_with_its_own_machines_numbers(rule_set, recorded):
    """Two machines disagree on latency: a measured rule holds when the numbers of a machine
    standing for one of the user's targets make it hold, and names that machine; a machine
    standing for a target the user does not have is not consulted; the first cited run
    speaks for targets without a machine of their own."""
    from app.decision.machine_evidence import CitedRun

    tf_faster = derive(recorded, scale("tensorflow", "litert", "latency_ms_b1", 0.1))
    pt_faster = derive(recorded, scale("pytorch", "onnxruntime", "latency_ms_b1", 0.1))
    server = CitedRun("run-server", "gpu-box", ("cloud_server",), pt_faster)
    edge = CitedRun("run-edge", "jetson-1", ("edge_linux", "arm64"), tf_faster)
    raw = {**base_answers(), "priorities": ["low_latency"]}

    def measured(targets, runs):
        answers = validate_answers(rule_set.questionnaire, {**raw, "deployment_targets": targets})
        rec = score_answers(rule_set, answers, runs=runs)
        return {(r.rule_id, r.machine) for r in rec.reasons if r.evidence}, rec

    both = {("measured-tensorflow-latency-lead", "jetson-1"),
            ("measured-pytorch-latency-lead", "gpu-box")}
    found, rec = measured(["edge_linux", "cloud_server"], [server, edge])
    assert found == both
    measured_group = next(g for g in rec.groups if g.group == "measured")
    assert measured_group.pytorch <= measured_group.cap >= measured_group.tensorflow
    found, rec = measured(["edge_linux"], [server, edge])
    assert found == {("measured-tensorflow-latency-lead", "jetson-1")}
    assert rec.evidence.probe_run_id == "run-edge"  # the evidence block: the first consulted
    from app.decision.render_markdown import render_markdown
    assert "`measured-tensorflow-latency-lead` (measured on jetson-1)" in render_markdown(rec)
    # serverless has no machine of its own: the first cited run (the GPU box) speaks for it
    found, _ = measured(["edge_linux", "serverless"], [server, edge])
    assert found >= both
    # the edge machine did not measure latency: no latency point for the edge
    no_latency = CitedRun("run-edge", "jetson-1", ("edge_linux",),
                          derive(recorded, drop("latency_ms_b1")))
    found, _ = measured(["edge_linux"], [server, no_latency])
    assert found == set()
    # one machine, a single run: reasons carry no machine (the evidence block names it)
    answers = validate_answers(rule_set.questionnaire, raw)
    single = score_answers(rule_set, answers, tf_faster, probe_run_id="x")
    assert [r.machine for r in single.reasons if r.evidence] == [None]
