"""Fill in `orders.business_day` of orders paid before it was kept: their payment's date in
their store's zone as it is now, the zone every earlier figure was worked out in.

SQLite has no time zones: there the date comes from a function of this migration's connection.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder
from piccolo.engine.sqlite import SQLiteEngine

ID = "2026-12-04T20:20:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "business days of past sales"

_POSTGRES = (
    "UPDATE orders SET business_day = CAST(orders.paid_at AT TIME ZONE store.time_zone AS date)"
    " FROM store WHERE store.id = orders.store"
    " AND orders.paid_at IS NOT NULL AND orders.business_day IS NULL"
)
_SQLITE = (
    "UPDATE orders SET business_day = local_date(paid_at,"
    " (SELECT time_zone FROM store WHERE store.id = orders.store))"
    " WHERE paid_at IS NOT NULL AND business_day IS NULL"
)


def _local_date(paid_at: str, time_zone: str) -> str:
    return datetime.fromisoformat(paid_at).astimezone(ZoneInfo(time_zone)).date().isoformat()


async def backfill():
    engine = engine_finder()
    if not isinstance(engine, SQLiteEngine):
        await engine.run_ddl(_POSTGRES)
        return
    connection = engine.current_transaction.get().connection
    await connection.create_function("local_date", 2, _local_date, deterministic=True)
    await connection.execute(_SQLITE)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="orders", description=DESCRIPTION)
    manager.add_raw(backfill)
    return manager
