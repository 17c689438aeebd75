"""Fill in `order_line.refunded_fen` of orders refunded before refunds named their lines.

Those refunds were spread over the lines in proportion to their totals, as analytics computed
each line's net: floor(line total * refunded / order total), and the fen the floors leave over
one each to the lines the floor cut most (ties: the lowest line id). The same split here, so
rebuilt analytics of those orders do not change. Which goods they paid for was not recorded:
`returned_units` stays 0 for them.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-04T22:40:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "refunds per order line of past refunds"

_FLOOR = "CAST({line}.total_fen AS BIGINT) * o.refunded_fen / o.total_fen"
_CUT = "CAST({line}.total_fen AS BIGINT) * o.refunded_fen % o.total_fen"
_BACKFILL = (
    "UPDATE order_line SET refunded_fen = ("  # noqa: S608 (constant text)
    f"SELECT {_FLOOR.format(line='order_line')} + CASE WHEN (SELECT SUM("
    f"{_FLOOR.format(line='m')} + CASE WHEN {_CUT.format(line='m')} > "
    f"{_CUT.format(line='order_line')} OR ({_CUT.format(line='m')} = "
    f"{_CUT.format(line='order_line')} AND m.id < order_line.id) THEN 1 ELSE 0 END) "
    'FROM order_line m WHERE m."order" = order_line."order") < o.refunded_fen '
    'THEN 1 ELSE 0 END FROM orders o WHERE o.id = order_line."order") '
    'WHERE "order" IN (SELECT id FROM orders WHERE refunded_fen > 0 AND total_fen > 0)'
)


async def backfill():
    await engine_finder().run_ddl(_BACKFILL)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="orders", description=DESCRIPTION)
    manager.add_raw(backfill)
    return manager
