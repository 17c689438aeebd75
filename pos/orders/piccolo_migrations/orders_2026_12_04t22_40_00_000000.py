"""Order lines keep what refunds paid back on them; the next migration fills in past refunds."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-04T22:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "refunds per order line"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="orders", description=DESCRIPTION)
    for name in ("refunded_fen", "returned_units"):
        manager.add_column(
            table_class_name="OrderLine",
            tablename="order_line",
            column_name=name,
            db_column_name=name,
            column_class_name="Integer",
            column_class=Integer,
            params={
                "default": 0,
                "null": False,
                "primary_key": False,
                "unique": False,
                "index": False,
                "index_method": IndexMethod.btree,
                "choices": None,
                "db_column_name": None,
                "secret": False,
            },
            schema=None,
        )
    return manager
