"""Refunds name the goods they pay for; the next migration fills in those of past refunds."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import JSON
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-04T22:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "goods a refund pays for"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="payments", description=DESCRIPTION)
    manager.add_column(
        table_class_name="Refund",
        tablename="refund",
        column_name="returned",
        db_column_name="returned",
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
