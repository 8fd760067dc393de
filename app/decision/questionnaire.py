"""The questionnaire (rules/questionnaire.yaml) and validation of answers against it."""

from __future__ import annotations

import math
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


def validate_answers(questionnaire: Questionnaire, raw: Any) -> Answers:
    """Return validated Answers, or raise AnswersError listing every problem at once."""
    if not isinstance(raw, Mapping):
        raise AnswersError([Problem("answers", "must be a mapping of question id to answer")])
    questions = questionnaire.by_id()
    problems: list[Problem] = []
    values: dict[str, AnswerValue] = {}
    for key in raw:
        if key not in questions:
            problems.append(
                Problem(
                    str(key),
                    "unknown question; known questions are " + ", ".join(sorted(questions)),
                )
            )
    for question in questions.values():
        value = raw.get(question.id)
        if value is None:
            if question.required:
                problems.append(Problem(question.id, f"is required; expected {question.allowed()}"))
            elif question.id in raw:
                problems.append(Problem(question.id, "null is not an answer; leave the question "
                                        f"out to leave it unanswered, or give {question.allowed()}"))
            continue
        try:
            values[question.id] = _coerce(question, value)
        except ValueError as exc:
            problems.append(Problem(question.id, str(exc)))
    if problems:
        raise AnswersError(problems)
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
    allowed = _Allowed(question)  # formatted only when a message needs it
    if question.type == "single":
        if not isinstance(value, str) or value not in question.value_set:
            raise ValueError(f"{value!r} is not allowed; expected {allowed}")
        return value
    if question.type == "multi":
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple):
            raise ValueError(f"{value!r} is not a list; expected {allowed}")
        bad = [v for v in value if not isinstance(v, str) or v not in question.value_set]
        if bad:
            shown = ", ".join(repr(v) for v in bad)
            raise ValueError(f"{shown} not allowed; expected {allowed}")
        repeated = sorted({v for v in value if list(value).count(v) > 1})
        if repeated:
            raise ValueError(f"{', '.join(map(repr, repeated))} given more than once; "
                             f"expected {allowed}")
        chosen = tuple(sorted(set(value)))
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
            raise ValueError(f"{value!r} is not allowed; expected {allowed}")
        return value
    if question.type == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{value!r} is not a number; expected {allowed}")
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not allowed; expected {allowed}")
        if question.integer and not float(value).is_integer():
            raise ValueError(f"{value!r} is not a whole number; expected {allowed}")
        too_low = question.minimum is not None and value < question.minimum
        too_high = question.maximum is not None and value > question.maximum
        if too_low or too_high:
            raise ValueError(f"{value!r} is out of range; expected {allowed}")
        return int(value) if question.integer else value
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not text; expected {allowed}")
    if question.max_length is not None and len(value) > question.max_length:
        raise ValueError(f"is {len(value)} characters long; expected {allowed}")
    return value
