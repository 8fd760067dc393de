"""User-facing errors: each names what was wrong so it can be fixed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with user input: where it is and what is allowed."""

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class AdvisorError(Exception):
    """Base class for errors caused by input rather than by a bug."""


class AnswersError(AdvisorError):
    """Answers that do not fit the questionnaire; lists every problem at once."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


class RulesError(AdvisorError):
    """A rule set that cannot be loaded; lists every problem at once."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
