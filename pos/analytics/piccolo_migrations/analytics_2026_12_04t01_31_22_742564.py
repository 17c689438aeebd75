"""Analytics: a day's sales per product and a buyer's net as BIGINT, sums of many orders.

One order may come to an INTEGER's worth of fen; a day's sales of a product, or a buyer's
purchases over the years, add up past it, and PostgreSQL then refused the rollup. SQLite's
INTEGER holds 64 bits already (and cannot alter a column's type): nothing to do there.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import BigInt, Integer
from piccolo.engine import engine_finder
from piccolo.engine.sqlite import SQLiteEngine

ID = "2026-12-04T01:31:22:742564"
VERSION = "1.38.0"
DESCRIPTION = "sales and buyer sums as bigint"

_WIDENED = {
    ("SalesDay", "analytics_sales_day"): ("net_fen", "certified_fen", "quantity", "weight_g"),
    ("Buyer", "analytics_buyer"): ("net_fen",),
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="analytics", description=DESCRIPTION)
    if isinstance(engine_finder(), SQLiteEngine):
        return manager
    for (table_class_name, tablename), columns in _WIDENED.items():
        for column in columns:
            manager.alter_column(
                table_class_name=table_class_name,
                tablename=tablename,
                column_name=column,
                db_column_name=column,
                params={},
                old_params={},
                column_class=BigInt,
                old_column_class=Integer,
                schema=None,
            )
    return manager
