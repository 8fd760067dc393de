"""The questionnaire (rules/questionnaire.yaml) and validation of answers against it."""

from __future__ import annotations

import math
import re
import reprlib
from collections.abc import Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.decision.errors import AnswersError, Problem

QuestionType = Literal["single", "multi", "number", "boolean", "text"]
AnswerValue = str | bool | float | int | tuple[str, ...]


class Option(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    value: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str


class ShowIf(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    question: str
    contains_any: tuple[str, ...]


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    type: QuestionType
    label: str
    help: str
    # A short noun phrase for sentences ("the framework your team knows"); the label if absent.
    short: str | None = None
    required: bool = False
    options: tuple[Option, ...] = ()
    max_items: int | None = None
    exclusive: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False
    max_length: int | None = None
    default: Any = None
    # Show the question only when another multi answer includes one of these values
    # (the form hides it otherwise; the API accepts it either way).
    show_if: ShowIf | None = None

    @model_validator(mode="after")
    def _options_fit_type(self) -> Question:
        if self.type in ("single", "multi") and not self.options:
            raise ValueError(f"question {self.id}: {self.type} questions need options")
        if self.type not in ("single", "multi") and self.options:
            raise ValueError(f"question {self.id}: only single/multi questions take options")
        unknown = set(self.exclusive) - set(self.values)
        if unknown:
            raise ValueError(f"question {self.id}: exclusive names unknown values {sorted(unknown)}")
        return self

    @cached_property
    def values(self) -> tuple[str, ...]:
        return tuple(o.value for o in self.options)

    @cached_property
    def value_set(self) -> frozenset[str]:
        return frozenset(self.values)

    def label_of(self, value: str) -> str:
        """Return the human label of an option value (the value itself if unknown)."""
        for option in self.options:
            if option.value == value:
                return option.label
        return value

    def allowed(self) -> str:
        """Describe the allowed answers, for error messages."""
        if self.type in ("single", "multi"):
            text = "one of " if self.type == "single" else "a list of "
            text += ", ".join(self.values)
            if self.max_items:
                text += f" (at most {self.max_items})"
            return text
        if self.type == "number":
            kind = "an integer" if self.integer else "a number"
            return f"{kind} from {_fmt(self.minimum)} to {_fmt(self.maximum)}"
        if self.type == "boolean":
            return "true or false"
        return f"text of at most {self.max_length} characters"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    title: str
    help: str = ""
    questions: tuple[Question, ...]


class Questionnaire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int
    sections: tuple[Section, ...]

    @model_validator(mode="after")
    def _unique_ids(self) -> Questionnaire:
        seen: set[str] = set()
        for question in self.questions():
            if question.id in seen:
                raise ValueError(f"duplicate question id {question.id}")
            seen.add(question.id)
        questions = self.by_id()
        for question in self.questions():
            if question.show_if is None:
                continue
            source = questions.get(question.show_if.question)
            if source is None or source.type != "multi":
                raise ValueError(f"question {question.id}: show_if needs a multi question")
            unknown = set(question.show_if.contains_any) - set(source.values)
            if unknown:
                raise ValueError(f"question {question.id}: show_if names unknown values "
                                 f"{sorted(unknown)}")
        return self

    def questions(self) -> Iterator[Question]:
        for section in self.sections:
            yield from section.questions

    def by_id(self) -> dict[str, Question]:
        """Return question id -> question, in questionnaire order (shared: do not change it)."""
        return self._by_id

    @cached_property
    def _by_id(self) -> dict[str, Question]:
        return {q.id: q for q in self.questions()}


def _fmt(number: float | None) -> str:
    if number is None:
        return "any"
    return str(int(number)) if float(number).is_integer() else str(number)


def load_questionnaire(path: Path) -> Questionnaire:
    """Return the questionnaire parsed and checked from a YAML file."""
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    return Questionnaire.model_validate(data)


class Answers(Mapping[str, AnswerValue]):
    """Validated answers: question id -> value. Immutable; multi answers are sorted tuples."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, AnswerValue]):
        self._values = dict(values)

    def __getitem__(self, key: str) -> AnswerValue:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Answers({self._values!r})"

    @property
    def plain(self) -> dict[str, AnswerValue]:
        """Return the underlying dict (read-only by convention): predicates take it because
        a plain dict lookup is several times cheaper than the Mapping protocol."""
        return self._values

    def to_json(self) -> dict[str, Any]:
        """Return plain JSON types (lists for multi answers)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self._values.items()}


# A 422 names at most this many problems and says how many more there were: the answer to
# a 2 MiB body of unknown ids must stay small, and so must the work of building it.
MAX_PROBLEMS = 20
# Text that no database stores faithfully (PostgreSQL refuses NUL; a lone surrogate is not
# UTF-8) and control characters that break lines in Markdown and HTML attributes.
UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
# The same rule as a JSON Schema pattern, for OpenAPI (valid JSON text has no lone surrogate).
STORABLE_TEXT_PATTERN = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f]*$"
_brief = reprlib.Repr()
_brief.maxstring, _brief.maxother, _brief.maxlist, _brief.maxdict = 40, 40, 4, 4


def shown(value: Any) -> str:
    """Return a short, printable, ASCII rendering of an outside value for an error message:
    never the whole input, never a character that cannot be encoded."""
    return ascii(_brief.repr(value))[1:-1].replace("\\\\", "\\")


def unstorable_text(text: str) -> str | None:
    """Return why the text cannot be stored (NUL, lone surrogate, control character), or None."""
    found = UNSTORABLE.search(text)
    if found is None:
        return None
    return (f"contains {ascii(found.group())[1:-1]} at position {found.start()}; NUL bytes, "
            "lone surrogates and control characters other than tab and line breaks are not allowed")


def _location(key: Any) -> str:
    """Return an unknown key as a location: itself when short and plain, else shown()."""
    plain = isinstance(key, str) and len(key) <= 64 and key.isascii() and key.isprintable()
    return key if plain else shown(key)


class _Problems:
    """Collects problems up to MAX_PROBLEMS and counts the rest without describing them."""

    def __init__(self) -> None:
        self.found: list[Problem] = []
        self.more = 0

    @property
    def full(self) -> bool:
        return len(self.found) >= MAX_PROBLEMS

    def add(self, make: Any) -> None:
        if self.full:
            self.more += 1
        else:
            self.found.append(make())

    def raise_if_any(self) -> None:
        if self.more:
            self.found.append(Problem("answers", f"and {self.more} more problem(s) not listed"))
        if self.found:
            raise AnswersError(self.found)


def validate_answers(questionnaire: Questionnaire, raw: Any) -> Answers:
    """Return validated Answers, or raise AnswersError listing the problems (at most
    MAX_PROBLEMS, then how many more). Work is linear in the input and, beyond counting
    unknown ids, bounded by the questionnaire."""
    if not isinstance(raw, Mapping):
        raise AnswersError([Problem("answers", "must be a mapping of question id to answer")])
    questions = questionnaire.by_id()
    problems = _Problems()
    values: dict[str, AnswerValue] = {}
    for key in raw:
        if key not in questions:
            problems.add(lambda key=key: Problem(
                _location(key), "unknown question; known questions are " + ", ".join(sorted(questions))))
    for question in questions.values():
        value = raw.get(question.id)
        if value is None:
            if question.required:
                problems.add(lambda q=question: Problem(q.id, f"is required; expected {q.allowed()}"))
            elif question.id in raw:
                problems.add(lambda q=question: Problem(
                    q.id, "null is not an answer; leave the question out to leave it "
                          f"unanswered, or give {q.allowed()}"))
            continue
        try:
            values[question.id] = _coerce(question, value)
        except ValueError as exc:
            problems.add(lambda q=question, exc=exc: Problem(q.id, str(exc)))
    problems.raise_if_any()
    return Answers(values)


class _Allowed:
    def __init__(self, question: Question):
        self.question = question

    def __str__(self) -> str:
        return self.question.allowed()

    def __format__(self, spec: str) -> str:
        return str(self)


def _coerce(question: Question, value: Any) -> AnswerValue:
    """Return the value in its canonical type, or raise ValueError saying what is allowed."""
    # The common valid answers first: every request validates every answer.
    kind = question.type
    if kind == "single" and value.__class__ is str and value in question.value_set:
        return value
    if kind == "boolean" and (value is True or value is False):
        return value
    if kind == "multi" and value.__class__ is list and 0 < len(value) <= len(question.values):
        known = question.value_set
        if all(v.__class__ is str and v in known for v in value):
            chosen = tuple(sorted(set(value)))
            fits = question.max_items is None or len(chosen) <= question.max_items
            alone = len(chosen) == 1 or not any(only in chosen for only in question.exclusive)
            if len(chosen) == len(value) and fits and alone:
                return chosen
        # otherwise the checks below say what is wrong
    allowed = _Allowed(question)  # formatted only when a message needs it
    if question.type == "single":
        if not isinstance(value, str) or value not in question.value_set:
            raise ValueError(f"{shown(value)} is not allowed; expected {allowed}")
        return value
    if question.type == "multi":
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple):
            raise ValueError(f"{shown(value)} is not a list; expected {allowed}")
        if len(value) > len(question.values):
            # More items than options: some are repeated or unknown. Refused before any
            # per-item work, so the cost is bounded by the questionnaire, not the request.
            raise ValueError(f"{len(value)} items given, but there are only "
                             f"{len(question.values)} options; expected {allowed}")
        bad = [v for v in value if not isinstance(v, str) or v not in question.value_set]
        if bad:
            raise ValueError(f"{', '.join(shown(v) for v in bad)} not allowed; expected {allowed}")
        seen: set[str] = set()
        repeated = sorted({v for v in value if v in seen or seen.add(v)})
        if repeated:
            raise ValueError(f"{', '.join(map(repr, repeated))} given more than once; "
                             f"expected {allowed}")
        chosen = tuple(sorted(seen))
        if question.required and not chosen:
            raise ValueError(f"choose at least one; expected {allowed}")
        if question.max_items is not None and len(chosen) > question.max_items:
            raise ValueError(f"{len(chosen)} chosen, at most {question.max_items} allowed")
        for only in question.exclusive:
            if only in chosen and len(chosen) > 1:
                raise ValueError(f"{only!r} cannot be combined with other choices")
        return chosen
    if question.type == "boolean":
        if not isinstance(value, bool):
            raise ValueError(f"{shown(value)} is not allowed; expected {allowed}")
        return value
    if question.type == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{shown(value)} is not a number; expected {allowed}")
        if not math.isfinite(value):
            raise ValueError(f"{shown(value)} is not allowed; expected {allowed}")
        if question.integer and not float(value).is_integer():
            raise ValueError(f"{shown(value)} is not a whole number; expected {allowed}")
        too_low = question.minimum is not None and value < question.minimum
        too_high = question.maximum is not None and value > question.maximum
        if too_low or too_high:
            raise ValueError(f"{shown(value)} is out of range; expected {allowed}")
        return int(value) if question.integer else value
    if not isinstance(value, str):
        raise ValueError(f"{shown(value)} is not text; expected {allowed}")
    if question.max_length is not None and len(value) > question.max_length:
        raise ValueError(f"is {len(value)} characters long; expected {allowed}")
    unstorable = unstorable_text(value)
    if unstorable:
        raise ValueError(unstorable)
    return value
