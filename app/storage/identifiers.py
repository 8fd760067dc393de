"""Unguessable ids and delete tokens (spec §6)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

# 18 random bytes = 144 bits from the OS CSPRNG, 24 URL-safe characters.
ID_BYTES = 18
ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{24}$")


def new_id() -> str:
    return secrets.token_urlsafe(ID_BYTES)


def is_well_formed(identifier: str) -> bool:
    """Return whether the id could have been made by new_id (malformed ones are never looked up)."""
    return bool(ID_PATTERN.match(identifier))


def new_delete_token() -> tuple[str, str]:
    """Return (token for the creator, SHA-256 hash to store)."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, stored_hash: str) -> bool:
    """Compare in constant time, so timing does not reveal how much of a guess was right."""
    return hmac.compare_digest(hash_token(token), stored_hash)
