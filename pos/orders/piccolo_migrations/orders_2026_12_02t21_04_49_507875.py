"""Orders remember the units their refunds put back; the next migration fills in past ones."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import JSON
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-02T21:04:49:507875"
VERSION = "1.38.0"
DESCRIPTION = "restocked units"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="orders", description=DESCRIPTION
    )
    manager.add_column(
        table_class_name="Order",
        tablename="orders",
        column_name="restocked",
        db_column_name="restocked",
        column_class_name="JSON",
        column_class=JSON,
        params={
            "default": "{}",
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
