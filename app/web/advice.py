"""The service's use of the decision core: validate, pick the probe evidence, score, and
snapshot what a report needs. Shared by the API and the HTML form."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.decision.errors import AdvisorError, AnswersError, Problem
from app.decision.probe_document import ProbeRunDocument
from app.decision.questionnaire import Answers, validate_answers
from app.decision.recommendation import Recommendation
from app.decision.rule_set import RuleSet
from app.decision.scoring import score_answers
from app.storage import probe_runs
from app.web.lru import LRU


class ProbeRunNotUsable(AdvisorError):
    """The cited probe run does not exist (404) or has no results yet (409)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Advice:
    answers: Answers
    json: bytes  # the recommendation serialised, ready to send (and all the memo keeps)
    probe_run_id: str | None

    @cached_property
    def recommendation(self) -> Recommendation:
        return Recommendation.model_validate_json(self.json)


_REQUESTED = object()  # the body named its probe run: the latest run does not matter


class AdviceCache:
    """Finished probe documents and recommendations, memoised in this process.

    Both are pure: a finished probe run never changes, and a recommendation is a function
    of (answers, rules version, probe run). Bounded LRU maps; 0 entries disables them."""

    def __init__(self, max_entries: int, ttl_s: float = 0.0):
        self.ttl_s = ttl_s
        self._latest: tuple[float, str | None] = (0.0, None)
        self._responses: LRU[tuple[object, bytes]] = LRU(max_entries)
        self._documents: LRU[ProbeRunDocument] = LRU(max_entries)
        self._recommendations: LRU[tuple[Answers, bytes]] = LRU(max_entries)

    def recommendation(self, key: tuple[str, str | None, str, str]
                       ) -> tuple[Answers, bytes] | None:
        return self._recommendations.get(key)

    def remember(self, key: tuple[str, str | None, str, str],
                 value: tuple[Answers, bytes]) -> None:
        self._recommendations.put(key, value)

    def response_for(self, body: bytes) -> bytes | None:
        """Return the recommendation JSON for a request body seen before, if still valid:
        same bytes, and (without a probe_run_id) the same latest probe run."""
        found = self._responses.get(body)
        if found is None:
            return None
        latest_when_made, payload = found
        if latest_when_made is not _REQUESTED:
            expires, latest = self._latest
            if latest_when_made != latest or expires <= time.monotonic():
                return None  # a newer run may exist: let advise() look and score again
        return payload

    def remember_response(self, body: bytes, probe_run_id: str | None, advice: Advice) -> None:
        marker = _REQUESTED if probe_run_id is not None else advice.probe_run_id
        self._responses.put(body, (marker, advice.json))

    def latest_id(self, sessions: sessionmaker[Session]) -> str | None:
        """Return the latest successful local run's id, asking at most once per ttl_s."""
        now = time.monotonic()
        expires, found = self._latest
        if expires > now:
            return found
        found = probe_runs.latest_successful_id(sessions)
        self._latest = (now + self.ttl_s, found)
        return found

    def document(self, sessions: sessionmaker[Session], run_id: str) -> ProbeRunDocument | None:
        found = self._documents.get(run_id)
        if found is None:
            row = probe_runs.get_run(sessions, run_id)
            if row is None or row.document is None or row.status in probe_runs.ACTIVE:
                return None
            found = ProbeRunDocument.model_validate(row.document)
            self._documents.put(run_id, found)
        return found


def choose_probe_run(sessions: sessionmaker[Session], cache: AdviceCache, requested: str | None
                     ) -> tuple[ProbeRunDocument | None, str | None, str]:
    """Return (document, run id, how it was chosen): the requested run, else the latest."""
    if requested is not None:
        document = cache.document(sessions, requested)
        if document is None:
            row = probe_runs.get_run(sessions, requested)
            if row is None:
                raise ProbeRunNotUsable(f"probe_run_id: no probe run {requested!r}", 404)
            raise ProbeRunNotUsable(f"probe_run_id: probe run {requested} has no results "
                                    f"(status {row.status})", 409)
        return document, requested, "requested"
    latest = cache.latest_id(sessions)
    document = cache.document(sessions, latest) if latest else None
    if document is None:
        return None, None, "none"
    return document, latest, "latest"


def advise(rule_set: RuleSet, sessions: sessionmaker[Session], raw_answers: Any,
           probe_run_id: str | None, cache: AdviceCache | None = None) -> Advice:
    """Return the recommendation for raw answers; AnswersError / ProbeRunNotUsable on bad input."""
    cache = cache or AdviceCache(0)
    document, used_id, chosen = choose_probe_run(sessions, cache, probe_run_id)
    # Keyed on the raw answers: validation is as deterministic as scoring, so answers
    # seen before need neither again.
    try:
        raw_key = json.dumps(raw_answers, sort_keys=True)
    except (TypeError, ValueError):
        raw_key = None
    key = (raw_key or "", used_id, chosen, rule_set.version)
    found = cache.recommendation(key) if raw_key is not None else None
    if found is not None:
        return Advice(found[0], found[1], used_id)
    answers = validate_answers(rule_set.questionnaire, raw_answers)
    recommendation = score_answers(rule_set, answers, document, probe_run_id=used_id,
                                   probe_run_chosen=chosen)
    payload = recommendation.model_dump_json().encode()
    if raw_key is not None:
        cache.remember(key, (answers, payload))
    return Advice(answers, payload, used_id)


def advise_from_rules(rule_set: RuleSet, raw_answers: Any) -> Advice:
    """Return the recommendation from the rules alone while its probe run is still to come."""
    answers = validate_answers(rule_set.questionnaire, raw_answers)
    payload = score_answers(rule_set, answers, provisional=True).model_dump_json().encode()
    return Advice(answers, payload, None)


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
