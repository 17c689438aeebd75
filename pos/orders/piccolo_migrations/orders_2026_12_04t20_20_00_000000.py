"""Orders keep the store-local day of their payment; the next migration fills in past ones."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Date
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-04T20:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "business day of a sale"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="orders", description=DESCRIPTION)
    manager.add_column(
        table_class_name="Order",
        tablename="orders",
        column_name="business_day",
        db_column_name="business_day",
        column_class_name="Date",
        column_class=Date,
        params={
            "default": None,
            "null": True,
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
