"""`advisor bench`: how long scoring takes with the shipped rules and with a large
generated rule set. Prints medians; it asserts nothing (performance is measured, not tested)."""

from __future__ import annotations

import dataclasses
import gc
import random
import statistics
import time
from collections.abc import Callable

from rich.console import Console
from rich.table import Table

from app.decision.conditions import compile_condition
from app.decision.flips import find_flips
from app.decision.questionnaire import Answers, validate_answers
from app.decision.rule_set import LoadedRule, Rule, RuleSet
from app.decision.scoring import fired_rules, score_answers
from app.decision.verdict import decide, tally

SAMPLE_ANSWERS = {
    "role": "startup", "team_experience": "both", "team_size": "small",
    "priorities": ["production_maturity", "low_latency"], "training_hardware": ["nvidia_gpu"],
    "deployment_targets": ["cloud_server", "mobile_android"], "cloud": "aws",
    "model_family": "vision_cnn", "uses_hub_models": False, "needs_mlops_pipeline": False,
    "models_in_production": 3, "latency_budget_ms": 20,
}


def median_seconds(fn: Callable[[], object], min_seconds: float = 0.5, min_runs: int = 20
                   ) -> float:
    """Return the median wall time of fn over enough runs to fill min_seconds."""
    for _ in range(3):
        fn()  # warm caches
    samples: list[float] = []
    # Like timeit: collect first and keep the cyclic GC out of the timed region,
    # so a collection triggered by building the rule set is not charged to scoring.
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        while len(samples) < min_runs or time.perf_counter() - start < min_seconds:
            t0 = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - t0)
    finally:
        gc.enable()
    return statistics.median(samples)


def generated_rule_set(base: RuleSet, count: int, seed: int = 7) -> RuleSet:
    """Return the shipped rule set with `count` random but valid scoring rules instead."""
    rng = random.Random(seed)
    questions = [q for q in base.questionnaire.questions() if q.type != "text"]
    template = base.rules[0].rule
    rules: list[LoadedRule] = []
    for i in range(count):
        parts = []
        for q in rng.sample(questions, 2):
            if q.type == "single":
                parts.append({"question": q.id, "one_of": rng.sample(q.values, 2)})
            elif q.type == "multi":
                parts.append({"question": q.id, "contains": rng.choice(q.values)})
            elif q.type == "boolean":
                parts.append({"question": q.id, "equals": rng.choice([True, False])})
            else:
                parts.append({"question": q.id, "gte": rng.choice([1, 10, 100, 1000])})
        when = {"all": parts}
        rule = Rule(id=f"generated-{i}", when=when,
                    points={rng.choice(["pytorch", "tensorflow"]): rng.randint(1, 5)},
                    why=template.why, sources=template.sources, as_of=template.as_of,
                    group=rng.choice(list(base.policy.groups)))
        rules.append(LoadedRule(rule, compile_condition(when, base.questions), "generated"))
    return dataclasses.replace(base, rules=rules)


def run_scoring_benchmark(rule_set: RuleSet, generated: int, console: Console) -> None:
    """Time scoring and print a table of medians with the targets from issue #2."""
    answers: Answers = validate_answers(rule_set.questionnaire, SAMPLE_ANSWERS)
    table = Table(title="Scoring benchmark (median per call)")
    for column in ("measurement", "rules", "median", "target", "ratio to target"):
        table.add_column(column)

    def row(name: str, rules: int, seconds: float, target: float) -> None:
        table.add_row(name, str(rules), f"{seconds * 1e6:,.1f} µs", f"{target * 1e6:,.0f} µs",
                      f"{seconds / target:.2f}")

    n = len(rule_set.rules)
    row("score one answer set (fire rules + tally)", n,
        median_seconds(lambda: tally(rule_set, fired_rules(rule_set, answers, None))), 100e-6)
    fired = fired_rules(rule_set, answers, None)
    verdict = decide(rule_set.policy, tally(rule_set, fired), [])
    row("flip analysis", n,
        median_seconds(lambda: find_flips(rule_set, answers, None, fired, verdict)), 5e-3)
    row("score_answers complete (reasons, toolchain, caveats, flips)", n,
        median_seconds(lambda: score_answers(rule_set, answers)), 5e-3)
    per_rule: list[float] = []
    for size in (generated // 10, generated // 2, generated):
        gc.collect()  # each size starts from a clean heap, not the previous set's leftovers
        big = generated_rule_set(rule_set, size)
        seconds = median_seconds(lambda big=big: tally(big, fired_rules(big, answers, None)))
        per_rule.append(seconds / size)
        row("score one answer set, generated rules", size, seconds, 10e-3 * size / generated)
        del big
    console.print(table)
    console.print(
        f"cost per rule at {generated // 10:,} / {generated // 2:,} / {generated:,} rules: "
        + " / ".join(f"{p * 1e9:.0f} ns" for p in per_rule)
        + " (flat means linear growth)"
    )
