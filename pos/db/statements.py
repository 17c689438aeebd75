"""Hand-written SQL for the statements run on every checkout, compiled once per database.

Piccolo builds a query's SQL anew on each run: for a joined select that costs more CPU than
PostgreSQL spends answering it. A `Statement` is written once with `{}` placeholders and, on
PostgreSQL, goes straight to the transaction's or the pool's connection with its SQL text made
once (asyncpg then reuses its prepared statement). On SQLite it runs through Piccolo's engine,
which keeps its connection handling and type conversions.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Sequence
from typing import Any

from piccolo.engine.postgres import PostgresEngine
from piccolo.querystring import QueryString
from piccolo.table import Table

from pos.db.binding import current_engine

__all__ = ["Statement", "insert_new", "insert_rows", "inserting", "new_row_columns", "placeholders"]

_PLACEHOLDER = re.compile(r"\{\}")


class Statement:
    """One SQL statement with `{}` placeholders, run with new arguments each time."""

    def __init__(self, sql: str) -> None:
        self.sql = sql
        numbers = itertools.count(1)
        self._numbered = _PLACEHOLDER.sub(lambda _: f"${next(numbers)}", sql)

    async def rows(self, *args: Any) -> list[dict[str, Any]]:
        """Run it; the rows it returns, as dicts."""
        engine = current_engine()
        if not isinstance(engine, PostgresEngine) or engine.pool is None:
            rows: list[dict[str, Any]] = await engine.run_querystring(QueryString(self.sql, *args))
            return rows
        transaction = engine.current_transaction.get()
        if transaction is not None:
            records = await transaction.connection.fetch(self._numbered, *args)
        else:
            async with engine.pool.acquire() as connection:
                records = await connection.fetch(self._numbered, *args)
        return [dict(record) for record in records]

    async def first(self, *args: Any) -> dict[str, Any] | None:
        """Run it; its first row, or None."""
        rows = await self.rows(*args)
        return rows[0] if rows else None


def placeholders(count: int) -> str:
    """`{}, {}, {}` for `count` values, e.g. of an IN list."""
    return ", ".join(["{}"] * count)


# One per table, columns and number of rows: bounded, as a row count per call rarely repeats
# beyond a few dozen shapes.
@functools.lru_cache(maxsize=256)
def inserting(table: str, columns: tuple[str, ...], rows: int, tail: str = "") -> Statement:
    """An INSERT of `rows` rows into `columns` of `table`, then `tail` (ON CONFLICT, RETURNING)."""
    names = ", ".join(f'"{column}"' for column in columns)
    row = f"({placeholders(len(columns))})"
    values = ", ".join([row] * rows)
    return Statement(f"INSERT INTO {table} ({names}) VALUES {values} {tail}".rstrip())  # noqa: S608 (names)


@functools.cache
def new_row_columns(table: type[Table]) -> tuple[str, ...]:
    """The columns a new row of `table` sets: all but its id, which the database gives."""
    return tuple(column._meta.db_column_name for column in table._meta.non_default_columns)


@functools.cache
def _attribute_names(table: type[Table]) -> tuple[str, ...]:
    return tuple(column._meta.name for column in table._meta.non_default_columns)


async def insert_new(rows: Sequence[Table], tail: str = "") -> list[dict[str, Any]]:
    """Insert Piccolo rows of one table (their defaults applied) in one statement, then `tail`.

    For rows written with every sale: Piccolo's own insert builds its SQL anew each time.
    """
    table = type(rows[0])
    names = _attribute_names(table)
    values = [getattr(row, name) for row in rows for name in names]
    statement = inserting(table._meta.tablename, new_row_columns(table), len(rows), tail)
    return await statement.rows(*values)


async def insert_rows(table: str, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows, dicts with the same keys in the same order (the columns), in one statement."""
    if rows:
        values = [value for row in rows for value in row.values()]
        await inserting(table, tuple(rows[0]), len(rows)).rows(*values)
