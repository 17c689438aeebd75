"""Random credentials, of which only a sha256 digest is stored: a database leak reveals none."""

from __future__ import annotations

import hashlib
import secrets

__all__ = ["TOKEN_BYTES", "digest", "new_token"]

TOKEN_BYTES = 32


def new_token() -> str:
    """A random URL-safe credential of TOKEN_BYTES bytes."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def digest(token: str) -> str:
    """What is stored of a credential: its sha256, in hex."""
    return hashlib.sha256(token.encode()).hexdigest()
