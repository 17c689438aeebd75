"""Fill in `orders.restocked` from the ledger: every restock so far is a `return` movement
whose reference names its order (`inventory.restock`), so earlier refunds count in full.
"""

import json

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-02T21:04:50:000000"
VERSION = "1.38.0"
DESCRIPTION = "restocked units from the ledger"

_RETURNED = (
    "SELECT reference, product, SUM(delta) AS units FROM stock_movement"
    " WHERE kind = 'return' AND reference LIKE 'order:%' GROUP BY reference, product"
)


async def backfill():
    engine = engine_finder()
    restocked = {}
    for row in await engine.run_ddl(_RETURNED):
        order_id = int(row["reference"].removeprefix("order:"))
        restocked.setdefault(order_id, {})[str(row["product"])] = int(row["units"])
    for order_id, units in restocked.items():
        await engine.run_ddl(
            f"UPDATE orders SET restocked = '{json.dumps(units)}' WHERE id = {order_id}"
        )


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="orders", description=DESCRIPTION)
    manager.add_raw(backfill)
    return manager
