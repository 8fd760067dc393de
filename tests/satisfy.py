"""Builds an answer set that makes a given rule condition true, so that a test can show
each shipped rule firing through the public scoring path."""

from __future__ import annotations

from typing import Any

from app.decision.questionnaire import Question


def satisfy(condition: Any, answers: dict[str, Any], questions: dict[str, Question]) -> None:
    """Change `answers` in place so that the condition holds (first branch of any/not)."""
    if "all" in condition:
        for part in condition["all"]:
            satisfy(part, answers, questions)
        return
    if "any" in condition:
        satisfy(condition["any"][0], answers, questions)
        return
    if "not" in condition:
        refute(condition["not"], answers, questions)
        return
    if "measured" in condition:
        return  # evidence rules are satisfied by the probe document a test supplies
    qid = condition["question"]
    question = questions[qid]
    if "equals" in condition:
        answers[qid] = condition["equals"]
    elif "one_of" in condition:
        answers[qid] = condition["one_of"][0]
    elif "contains" in condition or "contains_any" in condition or "contains_all" in condition:
        wanted = condition.get("contains_all") or [
            condition.get("contains") or condition["contains_any"][0]]
        current = [v for v in answers.get(qid, []) if v not in question.exclusive]
        merged = list(dict.fromkeys(list(wanted) + current))
        if any(w in question.exclusive for w in wanted):
            merged = list(wanted)
        answers[qid] = merged[: question.max_items] if question.max_items else merged
    elif "answered" in condition:
        if not condition["answered"]:
            answers.pop(qid, None)
        elif qid not in answers:
            answers[qid] = question.minimum or 1
    else:
        op, limit = next((k, v) for k, v in condition.items() if k != "question")
        step = 1 if question.integer else 0.5
        answers[qid] = {"gte": limit, "gt": limit + step, "lte": limit, "lt": limit - step}[op]


def refute(condition: Any, answers: dict[str, Any], questions: dict[str, Question]) -> None:
    """Change `answers` in place so that the condition does not hold (for `all`, its first
    part)."""
    if "all" in condition:
        refute(condition["all"][0], answers, questions)
        return
    if "any" in condition:
        for part in condition["any"]:
            refute(part, answers, questions)
        return
    if "not" in condition:
        satisfy(condition["not"], answers, questions)
        return
    qid = condition["question"]
    question = questions[qid]
    if "equals" in condition or "one_of" in condition:
        excluded = condition.get("one_of") or [condition.get("equals")]
        if question.type == "boolean":
            answers[qid] = not condition["equals"]
        else:
            answers[qid] = next(v for v in question.values if v not in excluded)
    elif "contains" in condition or "contains_any" in condition:
        dropped = condition.get("contains_any") or [condition["contains"]]
        answers[qid] = [v for v in answers.get(qid, []) if v not in dropped]
    else:
        raise NotImplementedError(f"refute {condition}")
