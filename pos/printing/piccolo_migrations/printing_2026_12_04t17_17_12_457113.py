from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-04T17:17:12:457113"
VERSION = "1.38.0"
DESCRIPTION = "staff request keys on print jobs"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="printing", description=DESCRIPTION
    )

    manager.add_table(
        class_name="PrintJobKey",
        tablename="print_job_key",
        schema=None,
        columns=None,
    )

    manager.add_column(
        table_class_name="PrintJobKey",
        tablename="print_job_key",
        column_name="key",
        db_column_name="key",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 160,
            "default": "",
            "null": False,
            "primary_key": False,
            "unique": True,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager
