"""The service's use of the decision core: validate, pick the probe evidence, score, and
snapshot what a report needs. Shared by the API and the HTML form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.errors import AdvisorError, AnswersError, Problem
from app.probe_document import ProbeRunDocument
from app.questionnaire import Answers, validate_answers
from app.recommendation import Recommendation
from app.rule_set import RuleSet
from app.scoring import score_answers
from app.storage import probe_runs


class ProbeRunNotUsable(AdvisorError):
    """The cited probe run does not exist (404) or has no results yet (409)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Advice:
    answers: Answers
    recommendation: Recommendation
    probe_run_id: str | None


def choose_probe_run(sessions: sessionmaker[Session], requested: str | None
                     ) -> tuple[ProbeRunDocument | None, str | None, str]:
    """Return (document, run id, how it was chosen): the requested run, else the latest."""
    if requested is not None:
        row = probe_runs.get_run(sessions, requested)
        if row is None:
            raise ProbeRunNotUsable(f"probe_run_id: no probe run {requested!r}", 404)
        if row.document is None:
            raise ProbeRunNotUsable(f"probe_run_id: probe run {requested} has no results "
                                    f"(status {row.status})", 409)
        return ProbeRunDocument.model_validate(row.document), row.id, "requested"
    row = probe_runs.latest_successful(sessions)
    if row is None or row.document is None:
        return None, None, "none"
    return ProbeRunDocument.model_validate(row.document), row.id, "latest"


def advise(rule_set: RuleSet, sessions: sessionmaker[Session], raw_answers: Any,
           probe_run_id: str | None) -> Advice:
    """Return the recommendation for raw answers; AnswersError / ProbeRunNotUsable on bad input."""
    answers = validate_answers(rule_set.questionnaire, raw_answers)
    document, used_id, chosen = choose_probe_run(sessions, probe_run_id)
    recommendation = score_answers(rule_set, answers, document, probe_run_id=used_id,
                                   probe_run_chosen=chosen)
    return Advice(answers, recommendation, used_id)


def answer_labels(rule_set: RuleSet, answers: Answers) -> list[dict[str, Any]]:
    """Return each answer with its question and option labels, as a report snapshots them."""
    out = []
    for question in rule_set.questionnaire.questions():
        if question.id not in answers:
            continue
        value = answers[question.id]
        if isinstance(value, tuple):
            shown = ", ".join(question.label_of(v) for v in value)
            value = list(value)
        elif isinstance(value, bool):
            shown = "Yes" if value else "No"
        elif question.type == "single":
            shown = question.label_of(str(value))
        else:
            shown = f"{value:g}" if isinstance(value, float) else str(value)
        out.append({"question": question.id, "label": question.label, "answer": value,
                    "answer_label": shown})
    return out


def problems_to_detail(exc: AnswersError) -> list[dict[str, Any]]:
    """Return FastAPI-style 422 details ({loc, msg, type}) naming each bad field."""
    return [_issue(p) for p in exc.problems]


def _issue(problem: Problem) -> dict[str, Any]:
    loc = ["body", "answers"] if problem.location == "answers" else \
        ["body", "answers", problem.location]
    return {"loc": loc, "msg": f"{problem.location}: {problem.message}", "type": "invalid_answer"}
