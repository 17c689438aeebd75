"""Case-insensitive text matching that reads the same on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from piccolo.columns import Column
from piccolo.engine.sqlite import SQLiteEngine

from pos.db.binding import current_engine

__all__ = ["contains", "starts_with"]


def _plain(text: str) -> str:
    # SQLite's LIKE has no default escape character, so wildcards are dropped, not escaped.
    return text.replace("%", "").replace("_", "").replace("\\", "")


def _like(column: Column, pattern: str) -> Any:
    # SQLite's LIKE is already case-insensitive for ASCII and has no ILIKE.
    if isinstance(current_engine(), SQLiteEngine):
        return column.like(pattern)
    return column.ilike(pattern)


def contains(column: Column, text: str) -> Any:
    """`column` contains `text`, ignoring case."""
    return _like(column, f"%{_plain(text)}%")


def starts_with(column: Column, text: str) -> Any:
    """`column` starts with `text`, ignoring case."""
    return _like(column, f"{_plain(text)}%")
