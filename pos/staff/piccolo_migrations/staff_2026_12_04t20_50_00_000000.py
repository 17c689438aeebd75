"""Device tokens keep the Idempotency-Key they were issued with: a retry issues no second one.

Tokens issued before have none. The next migration makes the keys unique.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-04T20:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "device tokens keep their idempotency key"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="staff", description=DESCRIPTION)

    manager.add_column(
        table_class_name="DeviceToken",
        tablename="device_token",
        column_name="idempotency_key",
        db_column_name="idempotency_key",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 160,
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
