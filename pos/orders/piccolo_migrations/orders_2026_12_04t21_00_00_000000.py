"""Orders by business day: reconciliation selects a day's certified sales of every store by it.

Without the index PostgreSQL reads every paid order for each day reconciled. One column, not
(store, business_day): the day is asked for across all stores.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-04T21:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "orders by business day"


async def add():
    await engine_finder().run_ddl("CREATE INDEX orders_business_day ON orders (business_day)")


async def drop():
    await engine_finder().run_ddl("DROP INDEX orders_business_day")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="orders", description=DESCRIPTION)
    manager.add_raw(add)
    manager.add_raw_backwards(drop)
    return manager
