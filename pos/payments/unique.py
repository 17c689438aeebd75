"""Recognising a unique-constraint violation from either database driver."""

from __future__ import annotations

import sqlite3

import asyncpg

__all__ = ["is_unique_violation"]


def is_unique_violation(exc: BaseException) -> bool:
    """Whether `exc` is SQLite's or PostgreSQL's duplicate-key error."""
    if isinstance(exc, asyncpg.UniqueViolationError):
        return True
    return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc)
