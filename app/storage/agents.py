"""Probe agents: machines that run probe jobs for this server.

An agent is enrolled with `advisor agents add NAME`; its token is shown once and only its
SHA-256 is stored. A token reads `<agent id>.<secret>`: the id finds the row, the secret
is compared in constant time. The server's own worker is an agent too (`builtin`), with
no token: it never speaks HTTP.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.storage.identifiers import hash_token, is_well_formed, new_id, token_matches
from app.storage.tables import AgentRow

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
LABEL_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
MAX_LABELS = 32
# An agent that has not asked for work for this long is shown as offline.
ONLINE_WITHIN = dt.timedelta(seconds=90)


class AgentError(ValueError):
    """A name or label that does not fit, or a name already taken."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise AgentError(f"agent name {name!r} must be 1-64 characters: lower-case letters, "
                         "digits, '_', '.', '-', starting with a letter or digit")
    return name


def check_labels(labels: list[str]) -> list[str]:
    bad = [label for label in labels if not LABEL_PATTERN.match(label)]
    if bad:
        raise AgentError(f"label {bad[0]!r} must be 1-64 characters: letters, digits, '_', '.', "
                         "':', '-'")
    if len(labels) > MAX_LABELS:
        raise AgentError(f"at most {MAX_LABELS} labels")
    return list(dict.fromkeys(labels))


def create(sessions: sessionmaker[Session], name: str, labels: list[str]) -> tuple[AgentRow, str]:
    """Return the new agent and its token (shown once; only its hash is kept)."""
    row = AgentRow(id=new_id(), name=check_name(name), labels=check_labels(labels),
                   builtin=False, created_at=_now())
    token = f"{row.id}.{secrets.token_urlsafe(32)}"
    row.token_hash = hash_token(token)
    try:
        with sessions.begin() as session:
            session.add(row)
    except IntegrityError:
        raise AgentError(f"an agent named {name!r} already exists") from None
    return row, token


def ensure_builtin(sessions: sessionmaker[Session], name: str, labels: list[str]) -> None:
    """Create (or update the labels of) the server's own agent; several processes may race."""
    check_name(name)
    labels = check_labels(labels)
    with sessions.begin() as session:
        row = session.scalars(select(AgentRow).where(AgentRow.name == name)).first()
        if row is not None:
            if row.builtin and row.labels != labels:
                row.labels = labels
            return
    try:
        with sessions.begin() as session:
            session.add(AgentRow(id=new_id(), name=name, labels=labels, builtin=True,
                                 created_at=_now()))
    except IntegrityError:
        pass  # another server process created it first


def by_name(sessions: sessionmaker[Session], name: str) -> AgentRow | None:
    with sessions() as session:
        return session.scalars(select(AgentRow).where(AgentRow.name == name)).first()


def all_agents(sessions: sessionmaker[Session]) -> list[AgentRow]:
    with sessions() as session:
        return list(session.scalars(select(AgentRow).order_by(AgentRow.name)))


def revoke(sessions: sessionmaker[Session], name: str) -> bool:
    """Revoke an agent's token at once; return False when there is no such agent."""
    with sessions.begin() as session:
        result = session.execute(update(AgentRow).where(AgentRow.name == name,
                                                        AgentRow.revoked_at.is_(None))
                                 .values(revoked_at=_now(), token_hash=None))
        if result.rowcount:
            return True
        return session.scalars(select(AgentRow.id).where(AgentRow.name == name)).first() is not None


@dataclass(frozen=True)
class Authentication:
    outcome: Literal["ok", "unknown", "revoked"]
    agent: AgentRow | None = None


def authenticate(sessions: sessionmaker[Session], token: str) -> Authentication:
    """Return who a bearer token belongs to: ok, unknown (401) or revoked (403)."""
    agent_id, _, secret = token.partition(".")
    if not secret or not is_well_formed(agent_id):
        return Authentication("unknown")
    with sessions() as session:
        row = session.get(AgentRow, agent_id)
    if row is None or row.builtin:
        token_matches(token, "0" * 64)  # same work either way
        return Authentication("unknown")
    if row.revoked_at is not None:
        return Authentication("revoked", row)
    if row.token_hash is None or not token_matches(token, row.token_hash):
        return Authentication("unknown")
    return Authentication("ok", row)


def seen(sessions: sessionmaker[Session], name: str, environment: dict[str, Any] | None = None,
         labels: list[str] | None = None) -> None:
    """Record that an agent asked for work, with its environment and labels when it sent them."""
    values: dict[str, Any] = {"last_seen_at": _now()}
    if environment is not None:
        values["environment"] = environment
    if labels is not None:
        values["labels"] = check_labels(labels)
    with sessions.begin() as session:
        session.execute(update(AgentRow).where(AgentRow.name == name).values(**values))


def status_of(row: AgentRow, busy: bool) -> str:
    """Return revoked, running, online or offline."""
    if row.revoked_at is not None:
        return "revoked"
    if busy:
        return "running"
    if row.last_seen_at is not None and _aware(row.last_seen_at) > _now() - ONLINE_WITHIN:
        return "online"
    return "offline"
