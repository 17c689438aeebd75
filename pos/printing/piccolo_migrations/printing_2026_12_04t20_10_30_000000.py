from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Boolean
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-04T20:10:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "print jobs remember a send cut short, to print again as a reprint"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="printing", description=DESCRIPTION)

    manager.add_column(
        table_class_name="PrintJob",
        tablename="print_job",
        column_name="maybe_printed",
        db_column_name="maybe_printed",
        column_class_name="Boolean",
        column_class=Boolean,
        params={
            "default": False,
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
