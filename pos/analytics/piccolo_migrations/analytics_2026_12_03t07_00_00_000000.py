"""Analytics: one history row per buyer and product, and per buyer and origin county (unique).

A refresh deletes a buyer's rows and writes them anew under the buyer's lock; the unique indexes
make a second row for the same pair an error rather than a double count. Their leading column
serves the lookups by buyer.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-03T07:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique buyer histories"

_INDEXES = {
    "analytics_buyer_product_pair": "analytics_buyer_product (buyer_id, product_id)",
    "analytics_buyer_county_pair": "analytics_buyer_county (buyer_id, county_code)",
}


async def add_pair_indexes():
    engine = engine_finder()
    for name, columns in _INDEXES.items():
        await engine.run_ddl(f"CREATE UNIQUE INDEX {name} ON {columns}")


async def drop_pair_indexes():
    engine = engine_finder()
    for name in _INDEXES:
        await engine.run_ddl(f"DROP INDEX {name}")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="analytics", description=DESCRIPTION)
    manager.add_raw(add_pair_indexes)
    manager.add_raw_backwards(drop_pair_indexes)
    return manager
