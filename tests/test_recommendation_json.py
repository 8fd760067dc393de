"""The service sends recommendations as JSON assembled from pieces serialised once
(app/decision/recommendation_json.py). A client must get exactly the bytes pydantic would
write, whatever the answers: with and without measured evidence, with reasons that name
their machine, provisional, flips and ties included."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.decision.machine_evidence import CitedRun
from app.decision.probe_io import read_probe_document
from app.decision.questionnaire import validate_answers
from app.decision.recommendation_json import recommendation_json
from app.decision.rule_set import load_rule_set
from app.decision.scoring import score_answers
from tests.evidence_docs import derive, scale
from tests.test_scoring import _random_answer_sets

RECORDED = Path(__file__).parent / "data" / "probe-run-recorded.json"


@pytest.fixture(scope="module")
def documents():
    recorded = read_probe_document(RECORDED)
    return (derive(recorded, scale("tensorflow", "litert", "latency_ms_b1", 0.1)),
            derive(recorded, scale("pytorch", "onnxruntime", "latency_ms_b1", 0.1)))


def test_assembled_json_is_byte_for_byte_what_pydantic_writes(documents):
    # A fresh rule set: the shared pieces are made by this test's own requests.
    rule_set = load_rule_set()
    tf_faster, pt_faster = documents
    runs = [CitedRun("run-server", "gpu-box", ("cloud_server",), pt_faster),
            CitedRun("run-edge", "jetson-1", ("edge_linux",), tf_faster)]
    kinds = {"plain": 0, "evidence": 0, "machines": 0, "flips": 0, "ties": 0}
    for i, raw in enumerate(_random_answer_sets(rule_set, 400, seed=11)):
        answers = validate_answers(rule_set.questionnaire, raw)
        if i % 3 == 0:
            rec = score_answers(rule_set, answers, provisional=i % 2 == 0)
            kinds["plain"] += 1
        elif i % 3 == 1:
            rec = score_answers(rule_set, answers, tf_faster, probe_run_id="run-1",
                                probe_run_chosen="latest")
            kinds["evidence"] += rec.evidence is not None
        else:
            rec = score_answers(rule_set, answers, runs=runs, probe_run_chosen="requested")
            kinds["machines"] += any(r.machine for r in rec.reasons)
        kinds["flips"] += bool(rec.flips)
        kinds["ties"] += rec.decided_by == "tie_break"
        # twice: the second time the flips and group scores are the shared ones
        for _ in range(2):
            assert recommendation_json(rule_set, rec) == rec.model_dump_json().encode(), raw
    # the sample covers what the assembly special-cases
    assert all(kinds.values()), kinds
