"""One sale per order: a replayed `order_paid` once its store's merchant id changed made a second.

A sale's id names the merchant at the time (`<merchant>-S<order id>`), so its UNIQUE id did not
stop a replay that ran after the store moved to another merchant. Such a second sale becomes
`sale_replayed`: kept as sent when the platform has it (reconcile shows it), else dead with the
reason, for staff to see; never sent.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-04T14:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one sale per order"

_SECOND_SALES = (
    "UPDATE certified_transaction SET kind = 'sale_replayed',"
    " state = CASE WHEN state = 'sent' THEN 'sent' ELSE 'dead' END,"
    " dead_at = CASE WHEN state = 'sent' THEN NULL ELSE CURRENT_TIMESTAMP END,"
    " next_attempt_at = NULL, claimed_until = NULL,"
    " last_error = 'a second sale of its order, written when a replay followed a merchant change'"
    " WHERE kind = 'sale' AND id NOT IN"
    " (SELECT MIN(id) FROM certified_transaction WHERE kind = 'sale' GROUP BY order_id)"
)
_ONE_SALE = (
    "CREATE UNIQUE INDEX IF NOT EXISTS certified_transaction_one_sale"
    " ON certified_transaction (order_id) WHERE kind = 'sale'"
)


async def one_sale():
    engine = engine_finder()
    await engine.run_ddl(_SECOND_SALES)
    await engine.run_ddl(_ONE_SALE)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="platform", description=DESCRIPTION)
    manager.add_raw(one_sale)
    return manager
