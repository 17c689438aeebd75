"""Hand-written SQL for the statements run on every checkout, compiled once per database.

Piccolo builds a query's SQL anew on each run: for a joined select that costs more CPU than
PostgreSQL spends answering it. A `Statement` is written once with `{}` placeholders and, on
PostgreSQL, goes straight to the transaction's or the pool's connection with its SQL text made
once (asyncpg then reuses its prepared statement). On SQLite it runs through Piccolo's engine,
which keeps its connection handling and type conversions.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from piccolo.engine.postgres import PostgresEngine
from piccolo.querystring import QueryString

from pos.db.binding import current_engine

__all__ = ["Statement"]

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
