"""The one way services open a transaction that writes."""

from __future__ import annotations

from piccolo.engine.postgres import PostgresTransaction
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType

from pos.db.binding import current_engine

__all__ = ["write_transaction"]


def write_transaction() -> SQLiteTransaction | PostgresTransaction:
    """A transaction for a business step that writes.

    On SQLite it is `BEGIN IMMEDIATE`: a deferred transaction that reads and then writes fails
    with "database is locked" under concurrency instead of waiting for the busy timeout.
    """
    engine = current_engine()
    if isinstance(engine, SQLiteEngine):
        return engine.transaction(transaction_type=TransactionType.immediate)
    return engine.transaction()  # type: ignore[no-any-return]
