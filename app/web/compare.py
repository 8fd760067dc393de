"""Two reports side by side: which answers differ, each verdict and score, and which
reasons the second report gained or lost against the first."""

from __future__ import annotations

from dataclasses import dataclass

from app.decision.questionnaire import Questionnaire
from app.decision.recommendation import Reason
from app.web.api.schemas import ReportPublic
from app.web.wording import answer_text


@dataclass(frozen=True)
class AnswerDifference:
    question: str  # the question's label
    first: str
    second: str


@dataclass(frozen=True)
class Comparison:
    answers: list[AnswerDifference]
    gained: list[Reason]  # in the second report, not the first
    lost: list[Reason]  # in the first report, not the second
    same_verdict: bool


def compare_reports(questionnaire: Questionnaire, first: ReportPublic, second: ReportPublic
                    ) -> Comparison:
    """Return what differs between two reports, in the questionnaire's words."""
    questions = questionnaire.by_id()
    labels_first = {a.question: a for a in first.answer_labels}
    labels_second = {a.question: a for a in second.answer_labels}
    differences = []
    order = list(questions) + [q for q in {**first.answers, **second.answers} if q not in questions]
    for qid in order:
        a, b = first.answers.get(qid), second.answers.get(qid)
        if _same(a, b):
            continue
        question = questions.get(qid)
        label = question.label if question else (labels_first.get(qid) or labels_second[qid]).label
        differences.append(AnswerDifference(label, _shown(labels_first, qid, question, a),
                                            _shown(labels_second, qid, question, b)))
    first_ids = {(r.rule_id, r.framework) for r in first.recommendation.reasons}
    second_ids = {(r.rule_id, r.framework) for r in second.recommendation.reasons}
    return Comparison(
        answers=differences,
        gained=[r for r in second.recommendation.reasons if (r.rule_id, r.framework) not in first_ids],
        lost=[r for r in first.recommendation.reasons if (r.rule_id, r.framework) not in second_ids],
        same_verdict=first.recommendation.recommended == second.recommendation.recommended)


def _same(a: object, b: object) -> bool:
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return sorted(map(str, a)) == sorted(map(str, b))
    return a == b


def _shown(labels: dict, qid: str, question: object, value: object) -> str:
    # The report's own snapshot of its labels wins: it is what that report showed.
    if value is None:
        return "no answer"
    if qid in labels:
        return labels[qid].answer_label
    return answer_text(question, value) if question is not None else str(value)  # type: ignore[arg-type]
