"""Raw SQL for the analytics, the same text on SQLite and PostgreSQL.

Reads and occasional writes go through Piccolo's `raw` (`{}` placeholders, the current
transaction if one is open); the locks every refresh takes are a `Statement` with its SQL made
once. Bulk loads of the rebuild talk to the driver of the open write transaction: PostgreSQL's
binary COPY, or sqlite3's executemany. Store ids are put into the SQL as integers (`id_list`),
never as text from a request.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

from pos.analytics.tables import Purchase
from pos.db import Statement, current_engine

__all__ = [
    "aggregate",
    "copy",
    "execute",
    "fetch",
    "id_list",
    "is_postgres",
    "lock_rows_of",
    "serialize_writers",
]

# Any number: the key of the advisory lock that orders concurrent analytics writers.
_WRITER_LOCK = 8_104_211
# The writer lock shared, in a statement of its own: the keys are read by the next statement,
# whose snapshot (READ COMMITTED) already holds what a member link or rebuild that had the lock
# committed, so a payer's key is the member it now counts for. Then each key, every writer in
# the same order (hash order), so none waits in a cycle. In one statement: the aggregate calls
# the lock function row by row as the sorted subquery yields them; nothing is locked while the
# rows are gathered and sorted.
_SHARED_WRITER = Statement(f"SELECT pg_advisory_xact_lock_shared({_WRITER_LOCK})")
_LOCKS = (
    "SELECT count(pg_advisory_xact_lock(k)) FROM"
    " (SELECT DISTINCT hashtextextended(key, 0) AS k FROM ({keys}) AS keys ORDER BY k) AS sorted"
)
# PostgreSQL's default 4 MB makes a hash over a year of buyers spill to disk: 2 s instead of 0.6.
_AGGREGATE_MEMORY = "'128MB'"


def is_postgres() -> bool:
    """Whether the bound engine is PostgreSQL."""
    return isinstance(current_engine(), PostgresEngine)


def id_list(ids: Iterable[int]) -> str:
    """`(1, 2, 3)` for an IN clause; `(NULL)` matches nothing when there are no ids."""
    text = ", ".join(str(int(i)) for i in ids)
    return f"({text or 'NULL'})"


async def fetch(sql: str, *args: Any) -> list[dict[str, Any]]:
    """The rows of a query with `{}` placeholders."""
    rows: list[dict[str, Any]] = await Purchase.raw(sql, *args)
    return rows


async def aggregate(sql: str, *args: Any) -> list[dict[str, Any]]:
    """The rows of an aggregate over many rows: on PostgreSQL with room to hash in memory."""
    if not is_postgres():
        return await fetch(sql, *args)
    async with current_engine().transaction():
        await execute(f"SET LOCAL work_mem = {_AGGREGATE_MEMORY}")
        return await fetch(sql, *args)


async def execute(sql: str, *args: Any) -> None:
    """Run a statement with `{}` placeholders."""
    await Purchase.raw(sql, *args)


async def serialize_writers() -> None:
    """Make this transaction the only rollup writer until it ends (rebuilds, member links).

    Two workers refreshing the same buyer from different snapshots would each write a history
    missing the other's purchase. SQLite's write transaction already holds the only write lock.
    """
    if is_postgres():
        await execute("SELECT pg_advisory_xact_lock({})", _WRITER_LOCK)


async def lock_rows_of(keys: str, *args: Any) -> None:
    """Make writers of the same rollup rows wait for each other until the transaction ends.

    `keys` is a query (constant text, `{}` placeholders for `args`) giving one text `key` per
    row group the transaction rewrites: writers of other groups go on in parallel, while
    `serialize_writers` still waits for all of them. SQLite has one writer anyway.
    """
    if is_postgres():
        await _SHARED_WRITER.rows()
        await _locks_of(keys).rows(*args)


@functools.cache
def _locks_of(keys: str) -> Statement:
    return Statement(_LOCKS.format(keys=keys))


def _connection() -> Any:
    transaction = current_engine().current_transaction.get()
    if transaction is None:
        raise RuntimeError("bulk loads need an open write_transaction()")
    return transaction.connection


async def copy(table: str, columns: Sequence[str], records: Sequence[tuple[Any, ...]]) -> None:
    """Insert many rows into `table` on the open write transaction's connection."""
    if not records:
        return
    connection = _connection()
    if isinstance(current_engine(), SQLiteEngine):
        names = ", ".join(f'"{column}"' for column in columns)
        marks = ", ".join("?" * len(columns))
        await connection.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", records)  # noqa: S608 (names, not input)
    else:
        await connection.copy_records_to_table(table, records=records, columns=list(columns))
