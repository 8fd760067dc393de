"""A Recommendation as JSON: the same bytes as `model_dump_json()`, assembled from pieces
serialised once.

Most of a recommendation is made of objects that many recommendations share: the reasons,
toolchain steps, caveats, pointers and constraints (one per rule of the rule set), and the
group scores and flips that scoring shares by value. Each of those is serialised when it is
made and kept beside the rule set; a response is their concatenation plus a few small
values. This halves the cost of the JSON on every request that misses the memo
(`advisor bench scoring`). tests/test_recommendation_json.py checks the bytes equal
pydantic's for thousands of answer sets, with and without measured evidence.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic_core import to_json

from app.decision.recommendation import Recommendation

if TYPE_CHECKING:
    from app.decision.rule_set import RuleSet

# Bytes of shared pieces kept per rule set at most (each piece is a few hundred bytes; the
# rule set bounds how many there are, this bounds the memory whatever the rule set).
MAX_SHARED_PIECES = 20_000


class SharedJson:
    """The JSON of objects shared between recommendations, by object identity.

    A piece's object is kept alive as long as its bytes, so an id in the map can never
    belong to another object."""

    def __init__(self) -> None:
        self._bytes: dict[int, bytes] = {}
        self._alive: list[BaseModel] = []

    def add(self, obj: BaseModel) -> None:
        """Serialise a shared object now, so that responses copy its bytes."""
        if id(obj) not in self._bytes and len(self._alive) < MAX_SHARED_PIECES:
            self._alive.append(obj)
            self._bytes[id(obj)] = obj.__pydantic_serializer__.to_json(obj)

    def one(self, obj: BaseModel) -> bytes:
        found = self._bytes.get(id(obj))
        return found if found is not None else obj.__pydantic_serializer__.to_json(obj)

    def many(self, objs: Iterable[BaseModel]) -> bytes:
        get = self._bytes.get
        return b"[" + b",".join([get(id(o)) or o.__pydantic_serializer__.to_json(o)
                                 for o in objs]) + b"]"


def shared_json(derived: dict[str, Any]) -> SharedJson:
    """Return the shared pieces kept in a rule set's `derived` map."""
    found = derived.get("json")
    if found is None:
        found = derived.setdefault("json", SharedJson())
    return found


def recommendation_json(rule_set: RuleSet, rec: Recommendation) -> bytes:
    """Return `rec.model_dump_json().encode()` for a recommendation scored with `rule_set`,
    faster (fields in the model's order)."""
    shared = shared_json(rule_set.derived)
    toolchain = b"{" + b",".join([to_json(framework) + b":" + shared.many(steps)
                                  for framework, steps in rec.toolchain.items()]) + b"}"
    return b"".join([
        b'{"recommended":', to_json(rec.recommended),
        b',"decided_by":', to_json(rec.decided_by),
        b',"summary":', to_json(rec.summary),
        b',"scores":', to_json(rec.scores),
        b',"confidence":', to_json(rec.confidence),
        b',"groups":', shared.many(rec.groups),
        b',"constraints":', shared.many(rec.constraints),
        b',"reasons":', shared.many(rec.reasons),
        b',"toolchain":', toolchain,
        b',"caveats":', shared.many(rec.caveats),
        b',"also_consider":', shared.many(rec.also_consider),
        b',"flips":', shared.many(rec.flips),
        b',"evidence":', b"null" if rec.evidence is None else shared.one(rec.evidence),
        b',"provisional":', to_json(rec.provisional),
        b',"rules_version":', to_json(rec.rules_version),
        b"}",
    ])


FIELDS = ("recommended", "decided_by", "summary", "scores", "confidence", "groups", "constraints",
          "reasons", "toolchain", "caveats", "also_consider", "flips", "evidence", "provisional",
          "rules_version")
# A field added to the model must be added above too; importing this module says so at once.
if tuple(Recommendation.model_fields) != FIELDS:
    raise RuntimeError("recommendation_json.py lists other fields than Recommendation has: "
                       f"{tuple(Recommendation.model_fields)}")
