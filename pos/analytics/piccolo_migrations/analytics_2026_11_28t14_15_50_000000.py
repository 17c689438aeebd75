"""Composite indexes: rollups are read by store and day; one rating per order line."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-28T14:15:50:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes"

_INDEXES = {
    "analytics_purchase_store_day": "analytics_purchase (store_id, day)",
    "analytics_sales_day_store_day": "analytics_sales_day (store_id, day)",
    "analytics_buyer_product_first": "analytics_buyer_product (first_store_id, first_day)",
    "analytics_buyer_county_first": "analytics_buyer_county (first_store_id, first_day)",
}
_UNIQUE = "CREATE UNIQUE INDEX rating_order_line ON rating (\"order\", line_no)"


async def add():
    engine = engine_finder()
    for name, target in _INDEXES.items():
        await engine.run_ddl(f"CREATE INDEX {name} ON {target}")
    await engine.run_ddl(_UNIQUE)


async def drop():
    engine = engine_finder()
    for name in (*_INDEXES, "rating_order_line"):
        await engine.run_ddl(f"DROP INDEX {name}")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="analytics", description=DESCRIPTION)
    manager.add_raw(add)
    manager.add_raw_backwards(drop)
    return manager
