"""Real probes, both frameworks, reduced sampling: parity, every variant measured or failed,
schema round trip, forced crash and timeout recorded with the rest kept."""

from __future__ import annotations

import json
import subprocess
import sys

import psutil
import pytest

from app.decision.probe_document import ProbeRunDocument
from app.decision.probe_io import ProbeDocumentError, parse_probe_document
from probes.plan import SMOKE as MODELS  # the default of a probe run
from probes.plan import VARIANTS
from probes.runner import run_probes

pytestmark = pytest.mark.probes


@pytest.fixture(scope="session")
def full_run() -> ProbeRunDocument:
    progress = []
    document = run_probes(mode="test", timeout_s=600, on_progress=lambda p: progress.append(
        (p.done, p.total, p.current)))
    document.__dict__["_progress"] = progress  # for the progress test
    return document


def test_same_weights_give_the_same_outputs_in_both_frameworks(full_run):
    parity = {m.model: m.value for m in full_run.measurements
              if m.metric == "parity_max_abs_diff"}
    assert set(parity) == set(MODELS)
    assert all(diff <= 1e-4 for diff in parity.values()), parity
    assert not [f for f in full_run.failures if f.stage == "parity"]


def test_every_variant_has_numbers_or_a_recorded_failure(full_run):
    failed = {(f.framework, f.model, f.variant) for f in full_run.failures}
    measured = {(m.framework, m.model, m.variant): m for m in full_run.measurements
                if m.metric == "latency_ms_b1"}
    for framework, variants in VARIANTS.items():
        for model in MODELS:
            for variant in variants:
                key = (framework, model, variant)
                assert key in measured or key in failed, key
                if key in measured:
                    stats = measured[key].stats
                    assert stats.n >= 5 and stats.p50 <= stats.p95 <= stats.p99
    assert full_run.status in ("succeeded", "partial")


def test_spec_metrics_are_all_present(full_run):
    metrics = {(m.framework, m.metric) for m in full_run.measurements}
    for framework in ("pytorch", "tensorflow"):
        for metric in ("import_s", "first_call_ms", "latency_ms_b1", "throughput_sps_b32",
                       "compile_s", "train_step_ms_b32", "peak_rss_mb", "artifact_bytes"):
            assert (framework, metric) in metrics, (framework, metric)
    train = {(m.framework, m.variant) for m in full_run.measurements
             if m.metric == "train_step_ms_b32"}
    assert {("pytorch", "eager"), ("pytorch", "compile"), ("tensorflow", "eager"),
            ("tensorflow", "xla")} <= train


def test_exported_artifacts_are_measured_on_disk(full_run):
    sizes = {(m.framework, m.model, m.variant): m.value for m in full_run.measurements
             if m.metric == "artifact_bytes"}
    for model in MODELS:
        for key in (("pytorch", model, "export"), ("pytorch", model, "onnxruntime"),
                    ("tensorflow", model, "savedmodel"), ("tensorflow", model, "litert")):
            assert sizes.get(key, 0) > 1000, key
        # int8 weights are about a quarter of float32 ones
        assert sizes[("tensorflow", model, "litert_int8")] < sizes[("tensorflow", model, "litert")]


def test_variants_agree_with_their_frameworks_eager_output(full_run):
    diffs = [m for m in full_run.measurements if m.metric == "output_max_abs_diff"]
    assert len(diffs) >= 9 * len(MODELS)
    for m in diffs:
        if m.variant not in ("int8", "litert_int8"):
            assert m.value <= 1e-3, m


def test_environment_and_settings_are_recorded(full_run):
    env = full_run.environment
    assert env.cores >= 1 and env.memory_mb > 0 and env.cpu_model
    assert env.frameworks["pytorch"].version.startswith("2.13")
    assert env.frameworks["tensorflow"].version.startswith("2.21")
    assert env.threads == full_run.settings.threads
    assert env.thread_settings["torch.get_num_threads"] == str(env.threads)
    assert env.thread_settings["tf.intra_op_parallelism_threads"] == str(env.threads)


def test_progress_reports_what_runs_and_how_far(full_run):
    progress = full_run.__dict__["_progress"]
    assert progress[-1][0] == progress[-1][1] == sum(len(v) for v in VARIANTS.values()) * 3
    assert any(current == "tensorflow/cnn/litert" for _, _, current in progress)
    done = [d for d, _, _ in progress]
    assert done == sorted(done)


def test_document_round_trips_through_json(full_run, tmp_path):
    text = json.dumps(full_run.to_json())
    again = parse_probe_document(json.loads(text))
    assert again == full_run
    assert json.loads(text)["schema"] == "framework-advisor/probe-run@1"


def test_malformed_documents_are_refused_with_the_field(full_run):
    data = full_run.to_json()
    data["measurements"][0]["value"] = "fast"
    with pytest.raises(ProbeDocumentError, match=r"measurements\.0\.(import_s\.)?value"):
        parse_probe_document(data)
    data = full_run.to_json()
    data["comparisons"][0]["ratio"] = 0
    with pytest.raises(ProbeDocumentError, match="comparisons.0.ratio"):
        parse_probe_document(data)
    with pytest.raises(ProbeDocumentError, match="schema"):
        parse_probe_document({**full_run.to_json(), "schema": "something-else@9"})


def _worker_processes() -> list[psutil.Process]:
    # Only this test process's own workers: the machine is shared, other runs may be going.
    found = []
    for p in psutil.Process().children(recursive=True):
        try:
            cmdline = p.cmdline()
        except psutil.Error:
            continue
        if "probes" in cmdline and "worker" in cmdline:
            found.append(p)
    return found


def test_a_crash_is_recorded_and_the_rest_is_kept():
    document = run_probes(models=["mlp"], frameworks=["tensorflow"], mode="test",
                          fault={"tensorflow": "crash:mlp:savedmodel"}, timeout_s=300)
    assert document.status == "partial"
    crash = [f for f in document.failures if f.stage == "crash"]
    assert len(crash) == 1 and "SIGABRT" in crash[0].reason
    assert "tensorflow/mlp/savedmodel" in crash[0].reason
    kept = {m.variant for m in document.measurements if m.metric == "latency_ms_b1"}
    assert kept == {"eager", "function", "xla"}
    assert not _worker_processes()


def test_a_hang_times_out_is_killed_and_the_other_framework_still_runs():
    document = run_probes(models=["mlp"], frameworks=["pytorch", "tensorflow"], mode="test",
                          fault={"pytorch": "hang:mlp:eager"}, timeout_s=25)
    timeouts = [f for f in document.failures if f.stage == "timeout"]
    assert len(timeouts) == 1 and timeouts[0].framework == "pytorch"
    assert "timed out after 25 s" in timeouts[0].reason
    assert not [m for m in document.measurements
                if m.framework == "pytorch" and m.metric == "latency_ms_b1"]
    tf = {m.variant for m in document.measurements
          if m.framework == "tensorflow" and m.metric == "latency_ms_b1"}
    assert tf == set(VARIANTS["tensorflow"])
    assert document.status == "partial"
    assert not _worker_processes()


def test_timed_measurements_keep_raw_samples_and_comparisons_carry_intervals(full_run):
    timed = [m for m in full_run.measurements
             if m.metric in ("latency_ms_b1", "throughput_sps_b32", "train_step_ms_b32")]
    assert timed
    for m in timed:
        assert m.samples and sum(len(r) for r in m.samples) >= min(m.stats.n, 5)
    keys = {(c.metric, c.model, c.candidate.framework, c.candidate.chosen_as or c.candidate.variant,
             c.baseline.framework, c.baseline.chosen_as or c.baseline.variant)
            for c in full_run.comparisons}
    for model in MODELS:
        # a variant over eager, XLA over plain graphs, and one framework over the other
        assert ("latency_ms_b1", model, "pytorch", "compile", "pytorch", "eager") in keys
        assert ("throughput_sps_b32", model, "tensorflow", "xla", "tensorflow", "function") in keys
        assert ("latency_ms_b1", model, "tensorflow", "eager", "pytorch", "eager") in keys
        assert ("throughput_sps_b32", model, "tensorflow", "best", "pytorch", "best") in keys
    for c in full_run.comparisons:
        assert c.ci95[0] <= c.ci95[1]
        assert c.verdict in ("faster", "slower", "tie", "inconclusive")
    assert full_run.settings.rounds == 1 and full_run.contention is not None


def test_interleaved_rounds_alternate_the_frameworks():
    from probes.runner import interleaved_order

    assert interleaved_order(["pytorch", "tensorflow"], 3) == [
        "pytorch", "tensorflow", "tensorflow", "pytorch", "pytorch", "tensorflow"]


def test_a_run_under_a_cpu_hog_is_contended_and_scores_no_evidence(rule_set):
    from app.decision.questionnaire import validate_answers
    from app.decision.scoring import score_answers
    from tests.conftest import base_answers

    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        document = run_probes(models=["mlp"], mode="test", timeout_s=600)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    contention = document.contention
    assert contention.contended
    assert contention.run.others_cores >= 0.5  # two busy loops on a 2-core machine
    assert set(contention.per_framework) == {"pytorch", "tensorflow"}
    raw = {**base_answers(), "priorities": ["low_latency", "inference_throughput",
                                            "iteration_speed"]}
    rec = score_answers(rule_set, validate_answers(rule_set.questionnaire, raw), document)
    assert not [r for r in rec.reasons if r.evidence]
    assert rec.evidence.contended and rec.evidence.set_aside
    assert all("contended run" in s.why for s in rec.evidence.set_aside)
    assert any(n.startswith("Contended:") for n in rec.evidence.notes)
