"""Plain words for what people read: claim checks, rule conditions, metric names and
answers, built from the questionnaire's labels so that no question id, option value or
metric id reaches a page. (Flips carry their own sentence from the core: Flip.text.)
Pure functions of the decision core's data (no web imports), so the CLI's Markdown can
use them too."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from app.decision.questionnaire import Question, Questionnaire
from app.decision.recommendation import ClaimVerdict

FRAMEWORK_LABELS = {"pytorch": "PyTorch", "tensorflow": "TensorFlow", "both": "Both"}
# Metric ids (app/decision/measures.py) as a person says them.
METRIC_LABELS = {
    "import_s": "cold import time",
    "first_call_ms": "first call time",
    "latency_ms_b1": "latency at batch 1",
    "throughput_sps_b32": "throughput at batch 32",
    "compile_s": "compile or export time",
    "train_step_ms_b32": "training step time at batch 32",
    "peak_rss_mb": "peak memory",
    "artifact_bytes": "exported model size",
    "parity_max_abs_diff": "output difference between the frameworks",
}
STAT_LABELS = {"p50": "median", "p90": "90th percentile", "p95": "95th percentile",
               "p99": "99th percentile", "mean": "mean", "value": ""}
VARIANT_LABELS = {
    "eager": "eager", "compile": "torch.compile", "export": "torch.export",
    "onnxruntime": "ONNX Runtime", "int8": "int8", "function": "tf.function", "xla": "XLA",
    "savedmodel": "SavedModel", "litert": "LiteRT", "litert_int8": "LiteRT int8", "best": "best",
}
COMPARISON_WORDS = {"lt": "below", "lte": "at most", "gt": "above", "gte": "at least"}


def answer_text(question: Question, value: Any) -> str:
    """Return an answer as the questionnaire shows it ("Android apps, iOS apps")."""
    if value is None:
        return "no answer"
    if isinstance(value, list | tuple):
        return ", ".join(question.label_of(str(v)) for v in value) or "none"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if question.type == "single":
        return question.label_of(str(value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def scores_text(recommended: str, scores: Mapping[str, int]) -> str:
    """Return "TensorFlow 10 – PyTorch 7": the recommended framework first."""
    order = sorted(scores, key=lambda f: f != recommended)
    return " – ".join(f"{FRAMEWORK_LABELS.get(f, f)} {scores[f]}" for f in order)


_TOKEN = re.compile(r"[a-z][a-z0-9_]*")


def measure_words(text: str) -> str:
    """Return a measure description (Measure.describe()) with ids replaced by words:
    "pytorch compile vs eager: latency_ms_b1 p50 speed-up" becomes
    "PyTorch torch.compile vs eager: median latency at batch 1 speed-up"."""
    text = re.sub(r"\b(latency_ms_b1|throughput_sps_b32|train_step_ms_b32|first_call_ms|import_s"
                  r"|compile_s|peak_rss_mb|artifact_bytes|parity_max_abs_diff) (p50|p90|p95|p99|"
                  r"mean|value)\b",
                  lambda m: f"{STAT_LABELS[m.group(2)]} {METRIC_LABELS[m.group(1)]}".strip(), text)

    def word(match: re.Match[str]) -> str:
        token = match.group(0)
        for table in (FRAMEWORK_LABELS, METRIC_LABELS, VARIANT_LABELS):
            if token in table:
                return table[token]
        return token

    return _TOKEN.sub(word, text).replace("_", " ")


def metric_words(text: str) -> str:
    """Return text with metric ids (and only those) in words: "latency_ms_b1" becomes
    "latency at batch 1". For the project's own notes, e.g. a rule source."""
    return _METRIC_ID.sub(lambda m: METRIC_LABELS[m.group(0)], text)


_METRIC_ID = re.compile(r"\b(" + "|".join(METRIC_LABELS) + r")\b")


def threshold_words(threshold: str) -> str:
    """Return "gte 1.3" as "at least 1.3"."""
    op, _, number = threshold.partition(" ")
    return f"{COMPARISON_WORDS.get(op, op)} {number}".strip()


def claim_check(claim: ClaimVerdict) -> str:
    """Return what was checked for a claim, in words: "PyTorch torch.compile vs eager:
    median latency at batch 1 speed-up of at least 1.3×"."""
    check = measure_words(claim.measured)
    limit = threshold_words(claim.threshold)
    if "speed-up" in check:
        return f"{check} of {limit}×"
    return f"{check} {limit}"


def frameworks_text(versions: Mapping[str, Any] | None) -> str:
    """Return {'pytorch': '2.13.0+cpu', ...} as "PyTorch 2.13.0+cpu, TensorFlow 2.21.0"."""
    if not versions:
        return "unknown versions"
    return ", ".join(f"{FRAMEWORK_LABELS.get(k, k)} {v}" for k, v in versions.items())


def condition_words(when: Any, questionnaire: Questionnaire) -> str:
    """Return a rule's `when` condition (app/decision/conditions.py) in plain words."""
    if when is None:
        return "always"
    questions = questionnaire.by_id()
    return _condition(when, questions)


def _condition(raw: Any, questions: Mapping[str, Question]) -> str:
    if not isinstance(raw, Mapping):
        return str(raw)
    if "all" in raw:
        return " and ".join(_grouped(c, questions) for c in raw["all"])
    if "any" in raw:
        return " or ".join(_grouped(c, questions) for c in raw["any"])
    if "not" in raw:
        return f"not ({_condition(raw['not'], questions)})"
    ops = [k for k in raw if k not in ("question", "measured")]
    op = ops[0] if ops else ""
    arg = raw.get(op)
    if "measured" in raw and "verdict" in raw:
        # Evidence conditions on a comparison's verdict (issue 10): the whole 95% interval counts.
        verdicts = raw["verdict"] if isinstance(raw["verdict"], list) else [raw["verdict"]]
        floor = raw.get("by_at_least")
        words = f"measured {_measured_words(raw['measured'])} is {' or '.join(map(str, verdicts))}"
        return words + (f" by at least {floor:g}× (whole 95% interval)" if floor else
                        " (95% interval)")
    if "measured" in raw:
        return f"measured {_measured_words(raw['measured'])} is {COMPARISON_WORDS.get(op, op)} {arg:g}"
    question = questions.get(str(raw.get("question")))
    if question is None:
        return str(dict(raw))
    asked = f"“{question.label}”"
    if op == "answered":
        return f"{asked} is {'answered' if arg else 'unanswered'}"
    if op == "equals":
        return f"{asked} is “{answer_text(question, arg)}”"
    if op == "one_of":
        return f"{asked} is {_quoted(question, arg, 'or')}"
    if op == "contains":
        return f"{asked} includes {_quoted(question, [arg], 'or')}"
    if op == "contains_any":
        return f"{asked} includes {_quoted(question, arg, 'or')}"
    if op == "contains_all":
        return f"{asked} includes {_quoted(question, arg, 'and')}"
    if op in COMPARISON_WORDS:
        return f"{asked} is {COMPARISON_WORDS[op]} {arg:g}"
    return f"{asked} {op} {arg}"


def _quoted(question: Question, values: list[Any], conjunction: str) -> str:
    quoted = [f"“{question.label_of(str(v))}”" for v in values]
    if len(quoted) == 1:
        return quoted[0]
    return ", ".join(quoted[:-1]) + f" {conjunction} " + quoted[-1]


def _grouped(raw: Any, questions: Mapping[str, Question]) -> str:
    text = _condition(raw, questions)
    return f"({text})" if isinstance(raw, Mapping) and ("all" in raw or "any" in raw) else text


def _measured_words(raw: Any) -> str:
    try:
        from app.decision.measures import parse_measure

        return measure_words(parse_measure(raw).describe())
    except ValueError:
        return str(raw)
