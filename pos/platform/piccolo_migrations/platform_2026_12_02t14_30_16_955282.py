"""Room for the rating kinds: `kind` goes from VARCHAR(10) to VARCHAR(20) (SQLite skips it)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar

ID = "2026-12-02T14:30:16:955282"
VERSION = "1.38.0"
DESCRIPTION = "rating kinds"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="platform", description=DESCRIPTION
    )
    manager.alter_column(
        table_class_name="CertifiedTransaction",
        tablename="certified_transaction",
        column_name="kind",
        db_column_name="kind",
        params={"length": 20},
        old_params={"length": 10},
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    return manager
