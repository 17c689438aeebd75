"""Ledger indexes, one row per key where the code upserts, and batch remainders never negative.

SQLite has no ALTER TABLE ADD CONSTRAINT, so triggers keep the range there.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-28T14:21:55:000000"
VERSION = "1.38.0"
DESCRIPTION = "ledger constraints"

_INDEXES = {
    "stock_movement_history": "stock_movement (store, product, occurred_at)",
    "stock_batch_fefo": "stock_batch (store, product, expires_at)",
}
_UNIQUE = {
    "reorder_rule_store_product": "reorder_rule (store, product)",
    "supplier_stock_supplier_product": "supplier_stock (supplier, product)",
    "shipment_notice_supplier_reference": "shipment_notice (supplier, reference)",
    "count_line_session_product": "count_line (session, product)",
}
_SQLITE_GUARD = """
CREATE TRIGGER stock_batch_remaining_{when} BEFORE {when} ON stock_batch
WHEN NEW.remaining < 0
BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: stock_batch_remaining'); END
"""


async def add():
    engine = engine_finder()
    for name, target in _INDEXES.items():
        await engine.run_ddl(f"CREATE INDEX {name} ON {target}")
    for name, target in _UNIQUE.items():
        await engine.run_ddl(f"CREATE UNIQUE INDEX {name} ON {target}")
    if engine.engine_type == "sqlite":
        for when in ("INSERT", "UPDATE"):
            await engine.run_ddl(_SQLITE_GUARD.format(when=when))
    else:
        await engine.run_ddl(
            "ALTER TABLE stock_batch ADD CONSTRAINT stock_batch_remaining CHECK (remaining >= 0)"
        )


async def drop():
    engine = engine_finder()
    for name in [*_INDEXES, *_UNIQUE]:
        await engine.run_ddl(f"DROP INDEX {name}")
    if engine.engine_type == "sqlite":
        for when in ("insert", "update"):
            await engine.run_ddl(f"DROP TRIGGER stock_batch_remaining_{when}")
    else:
        await engine.run_ddl("ALTER TABLE stock_batch DROP CONSTRAINT stock_batch_remaining")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="inventory", description=DESCRIPTION)
    manager.add_raw(add)
    manager.add_raw_backwards(drop)
    return manager
