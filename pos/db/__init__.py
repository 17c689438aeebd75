"""Database engine choice, binding, migrations and the write-transaction helper."""

from __future__ import annotations

from pos.db.binding import bind, current_engine
from pos.db.engine import close_engine, create_engine, open_engine
from pos.db.transaction import write_transaction

__all__ = [
    "bind",
    "close_engine",
    "create_engine",
    "current_engine",
    "open_engine",
    "write_transaction",
]
