"""Analytics: one sales cell per store, day, product, supplier and origin county (unique).

A refresh adds an order's share to its cells with one INSERT ... ON CONFLICT DO UPDATE, which
needs a unique index on the cell's key; every key column is NOT NULL, so SQLite (which holds
NULLs distinct) enforces it as PostgreSQL does. Its leading columns serve the lookups by store
and day, so the index on those alone goes: each new cell would otherwise update both.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-02T18:38:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique sales cells"

_CELL = (
    "CREATE UNIQUE INDEX analytics_sales_day_cell ON analytics_sales_day"
    " (store_id, day, product_id, supplier_id, county_code)"
)
_STORE_DAY = "CREATE INDEX analytics_sales_day_store_day ON analytics_sales_day (store_id, day)"


async def add_cell_index():
    engine = engine_finder()
    await engine.run_ddl(_CELL)
    await engine.run_ddl("DROP INDEX analytics_sales_day_store_day")


async def drop_cell_index():
    engine = engine_finder()
    await engine.run_ddl(_STORE_DAY)
    await engine.run_ddl("DROP INDEX analytics_sales_day_cell")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="analytics", description=DESCRIPTION)
    manager.add_raw(add_cell_index)
    manager.add_raw_backwards(drop_cell_index)
    return manager
