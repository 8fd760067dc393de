"""Importing probe documents made elsewhere: each class of bad document is refused with 422
naming the field (nothing stored that cannot be read back), and a recommendation citing
an imported run with extreme but valid numbers never fails."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

RECORDED = Path(__file__).parent / "data" / "probe-run-recorded.json"
DOCUMENT = json.loads(RECORDED.read_text())


def _first(doc: dict, metric: str) -> dict:
    return next(m for m in doc["measurements"] if m["metric"] == metric)


def _set(path: str, value) -> callable:
    def change(doc: dict) -> None:
        *parents, last = path.split(".")
        target = doc
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is DELETE:
            del target[last]
        else:
            target[int(last) if last.isdigit() else last] = value
    return change


DELETE = object()
NAN, INF = float("nan"), float("inf")
LATENCY = next(i for i, m in enumerate(DOCUMENT["measurements"]) if m["metric"] == "latency_ms_b1")
THROUGHPUT = next(i for i, m in enumerate(DOCUMENT["measurements"])
                  if m["metric"] == "throughput_sps_b32")

BAD = [
    ("schema", _set("schema", DELETE)),
    ("finished_at", _set("finished_at", "2020-01-01T00:00:00+00:00")),
    ("started_at", _set("started_at", "9999-12-31T23:59:59+14:00")),
    ("started_at", _set("started_at", "2026-11-27T10:00:00")),  # no UTC offset
    ("duration_s", _set("duration_s", NAN)),
    ("memory_mb", _set("environment.memory_mb", NAN)),
    ("cv", _set(f"measurements.{LATENCY}.stats.cv", NAN)),
    ("value", _set(f"measurements.{THROUGHPUT}.value", 0)),
    ("value", _set(f"measurements.{THROUGHPUT}.value", -3.0)),
    ("value", _set(f"measurements.{THROUGHPUT}.value", 5e-324)),
    ("value", _set(f"measurements.{LATENCY}.value", INF)),
    ("p95", _set(f"measurements.{LATENCY}.stats.p95", 0)),
    ("samples", _set(f"measurements.{LATENCY}.samples", [[1.0, NAN]])),
    ("samples", _set(f"measurements.{LATENCY}.samples", [[1.0] * 201])),
    ("cpu_model", _set("environment.cpu_model", "x" * 201)),
    ("version", _set("environment.frameworks.pytorch.version", "v" * 5000)),
    ("thread_settings", _set("environment.thread_settings", {"k": "v" * 300})),
    ("reason", _set("failures", [{"stage": "run", "reason": "r" * 4001}])),
    ("ratio", _set("comparisons.0.ratio", NAN)),
    ("ci95", _set("comparisons.0.ci95", [0.0, 1.0])),
    ("metric", _set(f"measurements.{LATENCY}.metric", "latency_ms_b1_made_up")),
    ("others_cores", _set("contention.run.others_cores", -1)),
]


@pytest.mark.parametrize(("field", "change"), BAD, ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD)])
def test_bad_documents_are_refused_with_422_naming_the_field(client, field, change):
    doc = copy.deepcopy(DOCUMENT)
    change(doc)
    body = json.dumps(doc, allow_nan=True)  # NaN/Infinity as a careless exporter writes them
    response = client.post("/api/v1/probe-runs/import", content=body,
                           headers={"content-type": "application/json"})
    assert response.status_code == 422, (field, response.text[:300])
    assert field in response.text
    assert client.get("/api/v1/probe-runs").json() == []  # nothing was stored


def test_extreme_but_valid_numbers_never_break_a_recommendation(client):
    doc = copy.deepcopy(DOCUMENT)
    for m in doc["measurements"]:
        if m["metric"] == "throughput_sps_b32":
            m["value"] = 1e-9
            m["stats"] = {**m["stats"], "p50": 1e-9, "p90": 1e-9, "p95": 1e-9, "p99": 1e-9,
                          "mean": 1e-9, "stdev": 0.0, "cv": 0.0}
    imported = client.post("/api/v1/probe-runs/import", json=doc)
    assert imported.status_code == 201, imported.text[:300]
    answers = {"role": "startup", "team_experience": "neither", "team_size": "small",
               "priorities": ["inference_throughput", "low_latency"],
               "training_hardware": ["cpu"], "deployment_targets": ["batch", "serverless"],
               "cloud": "on_prem", "model_family": "tabular", "uses_hub_models": False,
               "needs_mlops_pipeline": False, "models_in_production": 1,
               "peak_requests_per_second": 1e6, "latency_budget_ms": 10}
    rec = client.post("/api/v1/recommendations",
                      json={"answers": answers, "probe_run_id": imported.json()["id"]})
    assert rec.status_code == 200, rec.text[:500]
    texts = " ".join(h["text"] for h in rec.json()["evidence"]["highlights"])
    assert "machine(s)" in texts


def test_an_imported_verdict_is_recomputed_from_its_interval(client):
    doc = copy.deepcopy(DOCUMENT)
    doc["comparisons"][0].update(ci95=[1.3, 0.8], verdict="faster")  # reversed, overclaimed
    imported = client.post("/api/v1/probe-runs/import", json=doc)
    assert imported.status_code == 201
    stored = imported.json()["results"]["comparisons"][0]
    assert stored["ci95"] == [0.8, 1.3] and stored["verdict"] == "inconclusive"


def test_report_says_what_was_set_aside_and_why_in_html_json_and_markdown(client):
    # The recorded run was made on this busy machine: contended, smoke set only.
    imported = client.post("/api/v1/probe-runs/import", json=DOCUMENT).json()
    answers = {"role": "startup", "team_experience": "neither", "team_size": "small",
               "priorities": ["low_latency", "inference_throughput"],
               "training_hardware": ["cpu"], "deployment_targets": ["batch"],
               "cloud": "on_prem", "model_family": "vision_cnn", "uses_hub_models": False,
               "needs_mlops_pipeline": False, "models_in_production": 1}
    created = client.post("/api/v1/reports", json={"answers": answers,
                                                    "probe_run_id": imported["id"]})
    assert created.status_code == 201, created.text[:300]
    report_id = created.json()["id"]
    evidence = client.get(f"/r/{report_id}.json").json()["recommendation"]["evidence"]
    assert evidence["contended"] and evidence["set_aside"]
    assert evidence["workload"]["smoke_only"] and evidence["workload"]["model"] == "cnn"
    assert not [r for r in client.get(f"/r/{report_id}.json").json()["recommendation"]["reasons"]
                if r["evidence"]]
    page = client.get(f"/r/{report_id}").text
    markdown = client.get(f"/r/{report_id}.md").text
    for text in (page, markdown):
        assert "Smoke set only" in text and "Contended:" in text
        assert "contended run: other processes kept" in text
        assert "Set aside" in text and "inconclusive" in text


def test_a_workload_run_page_charts_it_at_its_own_batch(client):
    """A workload is measured at its own batch (vision: 8), so its throughput and training
    charts read those metrics and say which batch; they were empty when the page only
    looked for the smoke set's batch-32 metrics."""
    doc = json.loads(RECORDED.read_text())
    renames = {"throughput_sps_b32": "throughput_sps_b8", "train_step_ms_b32": "train_step_ms_b8"}
    for item in doc["measurements"] + doc["failures"] + doc["comparisons"]:
        if item.get("model") == "cnn":
            item["model"] = "vision"
            item["metric"] = renames.get(item.get("metric"), item.get("metric"))
            if item.get("batch_size") == 32:
                item["batch_size"] = 8
    imported = client.post("/api/v1/probe-runs/import", json=doc)
    assert imported.status_code == 201, imported.text
    page = client.get(f"/probes/{imported.json()['id']}").text
    vision = page.split("vision probe model", 1)[1].split("probe model", 1)[0]
    assert "Throughput at batch 8" in vision and "Training step at batch 8" in vision
    throughput = vision.split('id="thr-vision"', 1)[1].split("</figure>", 1)[0]
    assert throughput.count('class="bar-row"') >= 2  # both frameworks' variants
