"""Password hashing with argon2id, off the event loop."""

from __future__ import annotations

import threading
from functools import cache

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["hash_password", "needs_rehash", "verify_password"]

# Each hash takes 64 MiB (RFC 9106 low-memory profile, argon2-cffi's default); a login burst on
# every worker thread at once would take gigabytes, so only a few hash at a time.
_HASHING_SLOTS = threading.BoundedSemaphore(4)
_hasher = PasswordHasher()


def _hash(password: str) -> str:
    with _HASHING_SLOTS:
        return _hasher.hash(password)


def _verify(password_hash: str, password: str) -> bool:
    with _HASHING_SLOTS:
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


@cache
def _unknown_user_hash() -> str:
    return _hash("no such user")


def _verify_unknown_user(password: str) -> bool:
    _verify(_unknown_user_hash(), password)
    return False


async def hash_password(password: str) -> str:
    """The argon2id hash of `password`."""
    return await anyio.to_thread.run_sync(_hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; a `None` hash (unknown user) costs the same and fails."""
    if password_hash is None:
        return await anyio.to_thread.run_sync(_verify_unknown_user, password)
    return await anyio.to_thread.run_sync(_verify, password_hash, password)


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with other parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)
