"""Scale PLUs: one product per (store, PLU)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-28T13:32:46:322939"
VERSION = "1.38.0"
DESCRIPTION = "constraints"

async def add():
    await engine_finder().run_ddl("CREATE UNIQUE INDEX plu_store_plu ON plu (store, plu)")


async def drop():
    await engine_finder().run_ddl("DROP INDEX plu_store_plu")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="orders", description=DESCRIPTION)
    manager.add_raw(add)
    manager.add_raw_backwards(drop)
    return manager
