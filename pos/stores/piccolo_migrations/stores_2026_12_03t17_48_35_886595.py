from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-03T17:48:35:886595"
VERSION = "1.38.0"
DESCRIPTION = "the layout of a store's scale labels"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="stores", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="Store",
        tablename="store",
        column_name="label_scheme",
        db_column_name="label_scheme",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 20,
            "default": "weight_plu5",
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
