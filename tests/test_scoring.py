"""score_answers: every rule fires, expert cases get expert answers, flips flip, determinism."""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from app.decision.questionnaire import validate_answers
from app.decision.rule_set import load_rule_set
from app.decision.scoring import score_answers
from app.decision.verdict import margin_confidence
from tests.conftest import EXAMPLES, base_answers
from tests.satisfy import satisfy

SHIPPED = load_rule_set()


def recommend(rule_set, raw):
    return score_answers(rule_set, validate_answers(rule_set.questionnaire, raw))


def load_example(name: str) -> dict:
    return yaml.safe_load(next(p for p in EXAMPLES if p.stem == name).read_text())


@pytest.mark.parametrize("rule_id", [r.rule.id for r in SHIPPED.rules if not r.condition.measures])
def test_every_answer_rule_fires_for_answers_that_meet_it(rule_set, rule_id):
    loaded = next(r for r in rule_set.rules if r.rule.id == rule_id)
    raw = base_answers()
    satisfy(loaded.rule.when, raw, rule_set.questions)
    rec = recommend(rule_set, raw)
    fired = {(r.rule_id, r.framework, r.points) for r in rec.reasons}
    for framework, points in loaded.rule.points.items():
        assert (rule_id, framework, points) in fired


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_reasons_are_strongest_first_and_sum_to_the_scores_under_group_caps(rule_set, example):
    rec = recommend(rule_set, yaml.safe_load(example.read_text()))
    points = [r.points for r in rec.reasons]
    assert points == sorted(points, reverse=True)
    caps = {g: group.cap for g, group in rule_set.policy.groups.items()}
    for framework in ("pytorch", "tensorflow"):
        per_group: dict[str, int] = {}
        for r in rec.reasons:
            if r.framework == framework:
                per_group[r.group] = per_group.get(r.group, 0) + r.points
        assert rec.scores[framework] == sum(min(v, caps[g]) for g, v in per_group.items())
        assert rec.scores[framework] == sum(getattr(g, framework) for g in rec.groups)
    assert all(r.sources for r in rec.reasons)


def test_research_lab_on_hugging_face_gets_pytorch_with_high_confidence(rule_set):
    rec = recommend(rule_set, load_example("research-lab-hugging-face"))
    assert rec.recommended == "pytorch"
    assert rec.confidence >= 0.85
    assert {"hub-models-pytorch", "researcher-pytorch"} <= {r.rule_id for r in rec.reasons}
    assert rec.flips == []


def test_tensorflow_shop_on_mobile_and_microcontrollers_gets_tensorflow(rule_set):
    rec = recommend(rule_set, load_example("tensorflow-shop-mobile-microcontrollers"))
    assert rec.recommended == "tensorflow"
    assert rec.confidence >= 0.75
    stages = {s.stage: s.tool for s in rec.toolchain["tensorflow"]}
    assert "LiteRT for Microcontrollers" in stages["microcontroller"]
    assert stages["pipeline"] == "TFX on Vertex AI Pipelines"
    caveats = {c.tool: c for c in rec.caveats}
    assert caveats["tf.lite.Interpreter"].status == "deprecated"
    assert caveats["tf.lite.Interpreter"].in_use
    assert "ai-edge-litert" in caveats["tf.lite.Interpreter"].migration
    # Keras 3 for a TensorFlow team; JAX because it trains on TPUs only.
    assert {a.option for a in rec.also_consider} == {"Keras 3", "JAX"}


def test_mixed_case_has_low_confidence_and_shows_what_would_tip_it(rule_set):
    rec = recommend(rule_set, load_example("startup-vision-api-and-android"))
    assert rec.confidence < 0.75
    assert rec.flips
    assert all(f.recommended != rec.recommended for f in rec.flips)


def test_llm_team_on_torchserve_is_told_it_is_archived(rule_set):
    rec = recommend(rule_set, load_example("llm-product-on-aws"))
    assert rec.recommended == "pytorch"
    caveats = {c.tool: c for c in rec.caveats}
    assert caveats["TorchServe"].status == "archived"
    assert "Triton" in caveats["TorchServe"].migration and "vLLM" in caveats["TorchServe"].migration
    assert caveats["TorchScript"].status == "deprecated"
    assert any(s.tool.startswith("vLLM") for s in rec.toolchain["pytorch"])
    # TensorFlow's own toolchain says it cannot serve the LLM: that is a constraint, and it decides.
    assert rec.decided_by == "constraint"
    assert any(c.framework == "tensorflow" and c.level == "blocking" for c in rec.constraints)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_flip_really_flips(rule_set, example):
    raw = yaml.safe_load(example.read_text())
    rec = recommend(rule_set, raw)
    for flip in rec.flips:
        changed = copy.deepcopy(raw)
        if flip.answer is None:
            changed.pop(flip.question, None)
        else:
            changed[flip.question] = flip.answer
        again = recommend(rule_set, changed)
        assert again.recommended == flip.recommended != rec.recommended, flip
        assert again.scores == flip.scores


def test_number_flips_find_the_threshold(rule_set):
    raw = base_answers()
    raw.update(deployment_targets=["cloud_server"], peak_requests_per_second=10,
               training_hardware=["nvidia_gpu"], priorities=["production_maturity"])
    rec = recommend(rule_set, raw)
    assert (rec.recommended, rec.scores) == ("tensorflow", {"pytorch": 0, "tensorflow": 1})
    # 1000 req/s or more adds a PyTorch point (high-traffic-tensorrt): a tie, which
    # goes to the policy's tie-break.
    rps_flips = [f for f in rec.flips if f.question == "peak_requests_per_second"]
    assert [f.answer for f in rps_flips] == [1000]
    assert rps_flips[0].recommended == rule_set.policy.tie_break == "pytorch"
    assert rps_flips[0].decided_by == "tie_break"
    assert rps_flips[0].text == ("If your peak requests per second were 1000: "
                                 "a tie (PyTorch 1 – TensorFlow 1), PyTorch by tie-break")


def test_scoring_is_deterministic(rule_set):
    for example in EXAMPLES:
        raw = yaml.safe_load(example.read_text())
        first = recommend(rule_set, raw).model_dump(mode="json")
        second = recommend(load_rule_set(), copy.deepcopy(raw)).model_dump(mode="json")
        assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


def test_confidence_follows_the_documented_formula(rule_set):
    policy = rule_set.policy
    assert margin_confidence(policy, "pytorch", {"pytorch": 0, "tensorflow": 0}, {}) == 0.5
    assert margin_confidence(policy, "pytorch", {"pytorch": 5, "tensorflow": 5},
                             {"team": {"pytorch": 3, "tensorflow": 0},
                              "serving_mlops": {"pytorch": 0, "tensorflow": 3}}) == 0.5
    # One strong group: 4-1 with the team's skills on one side and a slight edge on the other.
    strong = margin_confidence(policy, "pytorch", {"pytorch": 4, "tensorflow": 1},
                               {"team": {"pytorch": 4, "tensorflow": 0},
                                "serving_mlops": {"pytorch": 0, "tensorflow": 1}})
    assert strong == pytest.approx(0.5 + 0.49 * 1.0 * (3 / 7) ** 0.5)
    # Three slight edges one way are a lean, not a verdict.
    slight = margin_confidence(policy, "tensorflow", {"pytorch": 0, "tensorflow": 3},
                               {g: {"pytorch": 0, "tensorflow": 1} for g in
                                ("serving_mlops", "target_mobile_android", "target_web_browser")})
    assert slight == pytest.approx(0.5 + 0.49 * 0.5 * (3 / 5) ** 0.5)
    assert slight < 0.75 <= strong
    assert all(word in policy.confidence.explain for word in ("share", "strength", "tie"))


def test_tie_goes_to_the_policy_tie_break_with_confidence_one_half(rule_set):
    raw = base_answers()
    raw.update(priorities=["debuggability"], needs_mlops_pipeline=True, cloud="gcp")
    rec = recommend(rule_set, raw)
    assert rec.scores == {"pytorch": 2, "tensorflow": 2}
    assert rec.recommended == rule_set.policy.tie_break
    assert rec.confidence == 0.5


def test_fired_rules_are_exactly_the_rules_a_full_scan_fires(rule_set):
    """The shipped rules are tested by one generated function, a big rule set through the
    guard index: both must fire what testing each rule fires."""
    import random

    from app.bench.scoring import generated_rule_set
    from app.decision.rule_set import MAX_RULES_FOR_ONE_SELECTOR
    from app.decision.scoring import fired_rules

    big = generated_rule_set(rule_set, 2000, seed=3)
    assert len(rule_set.rules) <= MAX_RULES_FOR_ONE_SELECTOR < len(big.rules)
    rng = random.Random(11)
    answer_sets = [yaml.safe_load(p.read_text()) for p in EXAMPLES]
    for _ in range(50):
        raw = base_answers()
        for question in rule_set.questionnaire.questions():
            if question.type == "single":
                raw[question.id] = rng.choice(question.values)
            elif question.type == "multi" and question.id != "current_stack":
                plain = [v for v in question.values if v not in question.exclusive]
                raw[question.id] = rng.sample(plain, rng.randint(1, min(3, len(plain))))
            elif question.type == "boolean":
                raw[question.id] = rng.choice([True, False])
        answer_sets.append(raw)
    for candidate in (rule_set, big):
        for raw in answer_sets:
            answers = validate_answers(candidate.questionnaire, raw)
            scan = [r for r in candidate.rules if r.condition.predicate(answers.plain, None)]
            assert fired_rules(candidate, answers, None) == scan


def _random_answer_sets(rule_set, count: int, seed: int) -> list[dict]:
    import random

    rng = random.Random(seed)
    out = [yaml.safe_load(p.read_text()) for p in EXAMPLES]
    for _ in range(count):
        raw = base_answers()
        for question in rule_set.questionnaire.questions():
            if question.type == "single" and (question.required or rng.random() < 0.7):
                raw[question.id] = rng.choice(question.values)
            elif question.type == "multi" and (question.required or rng.random() < 0.5):
                plain = [v for v in question.values if v not in question.exclusive]
                most = min(question.max_items or 3, 3, len(plain))
                raw[question.id] = rng.sample(plain, rng.randint(1, most))
            elif question.type == "boolean":
                raw[question.id] = rng.choice([True, False])
        raw["models_in_production"] = rng.choice([1, 19, 20, 21, 500])
        if rng.random() < 0.5:
            raw["peak_requests_per_second"] = rng.choice([10, 999, 1000, 1001, 50000])
        out.append(raw)
    return out


def test_flips_equal_a_full_rescore_of_every_alternative(rule_set):
    """Flips re-evaluate only the rules and constraints that name a changed value; a full
    re-score of every plausible single change must find exactly the same flips."""
    from app.decision.flips import alternatives
    from app.decision.scoring import fired_rules
    from app.decision.verdict import outcome, tally

    policy = rule_set.policy
    for raw in _random_answer_sets(rule_set, 150, seed=5):
        answers = validate_answers(rule_set.questionnaire, raw)
        rec = score_answers(rule_set, answers)
        expected: dict[str, list[tuple]] = {}
        for question in rule_set.questionnaire.questions():
            if question.id in policy.flips.fixed:
                continue
            current = answers.plain.get(question.id)
            if question.id in policy.flips.only_when_unanswered and current is not None:
                continue
            excluded = rule_set.flip_exclusions.get(question.id)
            if excluded is not None and excluded.predicate(answers.plain, None):
                continue
            thresholds = sorted(rule_set.thresholds.get(question.id, ()))
            for alt in alternatives(question, current, thresholds,
                                    question.id in policy.flips.only_remove,
                                    policy.flips.offer_unanswered):
                changed = dict(answers.plain)
                changed[question.id] = alt.value
                again = validate_answers(rule_set.questionnaire, {
                    k: list(v) if isinstance(v, tuple) else v for k, v in changed.items()})
                scores = tally(rule_set, fired_rules(rule_set, again, None))
                constraints = [c.rule for c in rule_set.constraints
                               if c.condition.predicate(again.plain, None)]
                recommended, decided_by = outcome(policy, scores, constraints)
                if recommended != rec.recommended:
                    answer = list(alt.value) if isinstance(alt.value, tuple) else alt.value
                    expected.setdefault(question.id, []).append(
                        (answer, recommended, decided_by, scores))
        found: dict[str, list[tuple]] = {}
        for flip in rec.flips:
            found.setdefault(flip.question, []).append(
                (flip.answer, flip.recommended, flip.decided_by, flip.scores))
        for qid, flips in expected.items():
            if rule_set.questions[qid].type == "number":
                current = answers.plain.get(qid)
                assert all(f in flips for f in found[qid]), raw
                if current is None:  # the smallest flipping value per outcome
                    for flip in flips:
                        assert any(f[1:] == flip[1:] and f[0] <= flip[0] for f in found[qid]), raw
                    continue
                below = [f for f in flips if f[0] < current]
                above = [f for f in flips if f[0] > current]
                if below:
                    assert max(below, key=lambda f: f[0]) in found[qid], raw
                if above:
                    assert min(above, key=lambda f: f[0]) in found[qid], raw
            else:
                assert sorted(map(repr, found.get(qid, []))) == sorted(map(repr, flips)), (qid, raw)
        assert set(found) <= set(expected), raw


def test_output_parts_built_by_racing_threads_are_one(rules_copy):
    """The event loop and worker threads score at once on a fresh rule set: all must use
    the same prepared parts (a step from one and a caveat lookup in another would fail)."""
    import threading

    from app.decision.scoring import _parts

    fresh = load_rule_set(rules_copy)
    start = threading.Barrier(8)
    found = []

    def build() -> None:
        start.wait()
        found.append(_parts(fresh))

    threads = [threading.Thread(target=build) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == 8 and all(parts is found[0] for parts in found)


def test_a_number_rule_on_one_value_flips_when_the_answer_leaves_it(rules_copy):
    """Flips prepare a number question's changes once for every answer: a rule testing
    `equals` on a number must still be re-checked when the answer moves away."""
    path = rules_copy / "scoring" / "team.yaml"
    data = yaml.safe_load(path.read_text())
    data["rules"].append({
        "id": "seven-models-exactly", "group": "team",
        "when": {"question": "models_in_production", "equals": 7},
        "points": {"tensorflow": 5}, "why": "A test rule.", "sources": ["tests"],
        "as_of": "2026-11-28"})
    data["rules"].append({
        "id": "twenty-models-or-more", "group": "development",
        "when": {"question": "models_in_production", "gte": 20},
        "points": {"pytorch": 1}, "why": "A test rule.", "sources": ["tests"],
        "as_of": "2026-11-28"})
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    custom = load_rule_set(rules_copy)
    raw = {**base_answers(), "models_in_production": 7}
    rec = score_answers(custom, validate_answers(custom.questionnaire, raw))
    assert rec.recommended == "tensorflow"
    moved = [f for f in rec.flips if f.question == "models_in_production"]
    assert moved and all(f.recommended == "pytorch" and f.answer != 7 for f in moved)
    again = score_answers(custom, validate_answers(
        custom.questionnaire, {**raw, "models_in_production": moved[0].answer}))
    assert again.recommended == "pytorch"
