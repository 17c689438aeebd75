"""Payments: one payment per (order, Idempotency-Key) and one refund per (payment, key).

Unique indexes rather than table constraints: SQLite cannot add a constraint to a table.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-28T13:40:40:000000"
VERSION = "1.38.0"
DESCRIPTION = "idempotency keys"

_INDEXES = {
    "payment_order_key": "payment (\"order\", idempotency_key)",
    "refund_payment_key": "refund (payment, idempotency_key)",
}


async def add():
    for name, target in _INDEXES.items():
        await engine_finder().run_ddl(f"CREATE UNIQUE INDEX {name} ON {target}")


async def drop():
    for name in _INDEXES:
        await engine_finder().run_ddl(f"DROP INDEX {name}")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="payments", description=DESCRIPTION)
    manager.add_raw(add)
    manager.add_raw_backwards(drop)
    return manager
