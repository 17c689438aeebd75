"""Row ids as requests send them: checked at the edge against what a primary key can hold.

Piccolo's `Serial` primary key is an int4 on PostgreSQL. A larger id names no row, yet sent to
the database it fails the query (asyncpg refuses it past int4, SQLite past int8) instead of
finding nothing. Pydantic fields and Litestar parameters both read the `Interval` below.
Other INTEGER columns (prices, stock) are bounded by the same `MAX_INTEGER`.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Interval

__all__ = ["MAX_BIGINT", "MAX_INTEGER", "MAX_ROW_ID", "OptionalRowId", "RowId"]

MAX_INTEGER = 2**31 - 1
"""The largest value an INTEGER column holds on PostgreSQL (SQLite would store more)."""
MAX_BIGINT = 2**63 - 1
"""The largest value a BIGINT column holds (a catalog revision)."""
MAX_ROW_ID = MAX_INTEGER

RowId = Annotated[int, Interval(ge=1, le=MAX_ROW_ID)]
"""A row's id in a schema field or a path parameter (`FromPath[RowId]`)."""

# Litestar checks a range on a query parameter only when it annotates the whole union:
# `RowId | None` there would take any int.
OptionalRowId = Annotated[int | None, Interval(ge=1, le=MAX_ROW_ID)]
"""A row's id, or none."""
