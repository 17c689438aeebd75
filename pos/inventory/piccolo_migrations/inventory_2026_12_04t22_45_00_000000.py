"""Receiving lines keep who last scanned or set them, and when.

Lines from before have neither: empty and NULL, as for a notice's line nobody has scanned yet.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-04T22:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "receiving lines keep who scanned them"

_PARAMS = {
    "primary_key": False,
    "unique": False,
    "index": False,
    "index_method": IndexMethod.btree,
    "choices": None,
    "db_column_name": None,
    "secret": False,
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="inventory", description=DESCRIPTION)
    manager.add_column(
        table_class_name="ReceivingLine",
        tablename="receiving_line",
        column_name="scanned_by",
        db_column_name="scanned_by",
        column_class_name="Varchar",
        column_class=Varchar,
        params={"length": 64, "default": "", "null": False, **_PARAMS},
        schema=None,
    )
    manager.add_column(
        table_class_name="ReceivingLine",
        tablename="receiving_line",
        column_name="scanned_at",
        db_column_name="scanned_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={"default": None, "null": True, **_PARAMS},
        schema=None,
    )
    return manager
