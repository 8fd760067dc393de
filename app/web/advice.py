"""The service's use of the decision core: validate, pick the probe evidence, score, and
snapshot what a report needs. Shared by the API and the HTML form."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.decision.errors import AdvisorError, AnswersError, Problem
from app.decision.probe_document import ProbeRunDocument
from app.decision.questionnaire import Answers, validate_answers
from app.decision.recommendation import Recommendation
from app.decision.recommendation_json import recommendation_json
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


class AdviceCache:
    """Finished probe documents and recommendations, memoised in this process.

    Both are pure: a finished probe run never changes, and a recommendation is a function
    of (validated answers, rules version, probe run). Recommendations are keyed by the
    canonical form of the validated answers, never by request bytes, so the same answers
    padded or reordered share one slot. Bounded LRU maps (entries and bytes, half the
    byte budget each); 0 entries disables them."""

    def __init__(self, max_entries: int, ttl_s: float = 0.0, max_bytes: int | None = None):
        self.ttl_s = ttl_s
        self._latest: tuple[float, str | None] = (0.0, None)
        self._refreshed = False  # the latest run id was asked of the database at least once
        self._refreshing_since = 0.0  # monotonic time a request set out to ask it again; 0: none
        self._lock = threading.Lock()
        half = None if max_bytes is None else max_bytes // 2
        self._documents: LRU[ProbeRunDocument] = LRU(max_entries, half)
        self._recommendations: LRU[bytes] = LRU(max_entries, half)

    def recommendation(self, key: tuple[tuple, str | None, str, str]) -> bytes | None:
        return self._recommendations.get(key)

    def remember(self, key: tuple[tuple, str | None, str, str], payload: bytes) -> None:
        # The key's answers count 64 bytes each plus their text (a title can be long), so
        # the byte budget holds without serialising the key.
        answers = key[0]
        size = 64 * len(answers) + sum(len(v) for _, v in answers if isinstance(v, str))
        self._recommendations.put(key, payload, len(payload) + size)

    @property
    def bytes(self) -> int:
        """Bytes held now (what the byte budget counts)."""
        return self._documents.bytes + self._recommendations.bytes

    def cached_document(self, run_id: str) -> ProbeRunDocument | None:
        """Return the parsed document if it is in memory (never asks the database)."""
        return self._documents.get(run_id)

    def known_latest(self) -> tuple[bool, str | None]:
        """Return (usable now, latest run id) without asking the database.

        When the answer has expired, the first caller is told to ask (False) and, until it
        has (at most another ttl_s), everyone else keeps the last answer: one query per
        ttl_s instead of every in-flight request queueing for the database at once."""
        expires, found = self._latest
        now = time.monotonic()
        if expires > now:
            return True, found
        with self._lock:
            if (self._refreshed and self.ttl_s > 0 and self._refreshing_since
                    and now - self._refreshing_since < self.ttl_s):
                return True, found
            self._refreshing_since = now
        return False, found

    def latest_id(self, sessions: sessionmaker[Session]) -> str | None:
        """Return the latest successful local run's id, asking at most once per ttl_s."""
        now = time.monotonic()
        expires, found = self._latest
        if expires > now:
            return found
        found = probe_runs.latest_successful_id(sessions)
        self._latest = (time.monotonic() + self.ttl_s, found)
        with self._lock:
            self._refreshed, self._refreshing_since = True, 0.0
        return found

    def document(self, sessions: sessionmaker[Session], run_id: str) -> ProbeRunDocument | None:
        found = self._documents.get(run_id)
        if found is None:
            row = probe_runs.get_run(sessions, run_id)
            if row is None or row.document is None or row.status in probe_runs.ACTIVE:
                return None
            found = ProbeRunDocument.model_validate(row.document)
            # The parsed model costs a few times its JSON; its JSON length is the measure.
            self._documents.put(run_id, found, 4 * len(json.dumps(row.document)))
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


def advise_in_memory(rule_set: RuleSet, cache: AdviceCache, raw_answers: Any,
                     probe_run_id: str | None) -> bytes | None:
    """Return the recommendation JSON when everything it needs is already in memory (the
    probe run to use, and the memo or the rules); None when finding out needs the database.
    AnswersError on bad answers. Never blocks on I/O, and its work is bounded by the
    questionnaire (about a millisecond with evidence, `advisor bench scoring`), so the
    event loop may run it for a body within the inline limit."""
    if probe_run_id is not None:
        document = cache.cached_document(probe_run_id)
        if document is None:
            return None
        used_id, chosen = probe_run_id, "requested"
        answers = validate_answers(rule_set.questionnaire, raw_answers)
    else:
        # Validated first: the caller told to ask the database for the latest run must be
        # one that goes on to ask it, never a bad answer set that ends in a 422.
        answers = validate_answers(rule_set.questionnaire, raw_answers)
        known, used_id = cache.known_latest()
        if not known:
            return None
        document = cache.cached_document(used_id) if used_id else None
        if used_id is not None and document is None:
            return None
        chosen = "latest" if used_id else "none"
    return _score_or_recall(rule_set, cache, answers, document, used_id, chosen)


def _score_or_recall(rule_set: RuleSet, cache: AdviceCache, answers: Answers,
                     document: ProbeRunDocument | None, used_id: str | None, chosen: str
                     ) -> bytes:
    key = (answers_key(answers), used_id, chosen, rule_set.version)
    found = cache.recommendation(key)
    if found is None:
        recommendation = score_answers(rule_set, answers, document, probe_run_id=used_id,
                                       probe_run_chosen=chosen)
        found = recommendation_json(rule_set, recommendation)
        cache.remember(key, found)
    return found


def answers_key(answers: Answers) -> tuple:
    """Return one hashable key per set of validated answers, whatever order or padding the
    request had: validation puts answers in questionnaire order and multi values in sorted
    tuples, and gives each question one type (so 1 and True never meet in one slot)."""
    return tuple(answers.plain.items())


def advise(rule_set: RuleSet, sessions: sessionmaker[Session], raw_answers: Any,
           probe_run_id: str | None, cache: AdviceCache | None = None) -> Advice:
    """Return the recommendation for raw answers; AnswersError / ProbeRunNotUsable on bad input."""
    cache = cache or AdviceCache(0)
    document, used_id, chosen = choose_probe_run(sessions, cache, probe_run_id)
    # Validation is linear and bounded by the questionnaire, so it always runs; only scoring
    # is memoised, keyed by the canonical validated answers.
    answers = validate_answers(rule_set.questionnaire, raw_answers)
    return Advice(answers, _score_or_recall(rule_set, cache, answers, document, used_id, chosen),
                  used_id)


def advise_from_rules(rule_set: RuleSet, raw_answers: Any) -> Advice:
    """Return the recommendation from the rules alone while its probe run is still to come."""
    answers = validate_answers(rule_set.questionnaire, raw_answers)
    payload = recommendation_json(rule_set, score_answers(rule_set, answers, provisional=True))
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
    """Return FastAPI-style 422 details ({loc, msg, type}) naming each bad field (validation
    already capped how many)."""
    return [_issue(p) for p in exc.problems]


def _issue(problem: Problem) -> dict[str, Any]:
    loc = ["body", "answers"] if problem.location == "answers" else \
        ["body", "answers", problem.location]
    return {"loc": loc, "msg": f"{problem.location}: {problem.message}", "type": "invalid_answer"}
