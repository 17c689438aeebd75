"""Engine choice, binding, migrations, the write-transaction helper, fixed statements, row ids."""

from __future__ import annotations

from pos.db.binding import bind, current_engine, opened_database
from pos.db.engine import close_engine, create_engine, open_engine
from pos.db.ids import MAX_BIGINT, MAX_INTEGER, MAX_ROW_ID, OptionalRowId, RowId
from pos.db.statements import (
    Statement,
    insert_new,
    insert_rows,
    inserting,
    new_row_columns,
    placeholders,
)
from pos.db.transaction import write_transaction

__all__ = [
    "MAX_BIGINT",
    "MAX_INTEGER",
    "MAX_ROW_ID",
    "OptionalRowId",
    "RowId",
    "Statement",
    "bind",
    "close_engine",
    "create_engine",
    "current_engine",
    "insert_new",
    "insert_rows",
    "inserting",
    "new_row_columns",
    "open_engine",
    "opened_database",
    "placeholders",
    "write_transaction",
]
