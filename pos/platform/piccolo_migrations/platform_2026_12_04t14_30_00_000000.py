"""One sale per order: a replayed `order_paid` once its store's merchant id changed made a second.

A sale's id names the merchant at the time (`<merchant>-S<order id>`), so its UNIQUE id did not
stop a replay that ran after the store moved to another merchant.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-04T14:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one sale per order"

_ONE_SALE = (
    "CREATE UNIQUE INDEX IF NOT EXISTS certified_transaction_one_sale"
    " ON certified_transaction (order_id) WHERE kind = 'sale'"
)


async def one_sale():
    await engine_finder().run_ddl(_ONE_SALE)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="platform", description=DESCRIPTION)
    manager.add_raw(one_sale)
    return manager
