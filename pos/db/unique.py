"""Recognising a unique-constraint violation from either database driver."""

from __future__ import annotations

import sqlite3

import asyncpg

__all__ = ["DUPLICATE_KEY", "is_unique_violation"]

# What a racing duplicate UNIQUE value raises on each database. SQLite raises the same class
# for every constraint; `is_unique_violation` tells them apart.
DUPLICATE_KEY = (sqlite3.IntegrityError, asyncpg.UniqueViolationError)


def is_unique_violation(exc: BaseException) -> bool:
    """Whether `exc` is SQLite's or PostgreSQL's duplicate-key error."""
    if isinstance(exc, asyncpg.UniqueViolationError):
        return True
    return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc)
