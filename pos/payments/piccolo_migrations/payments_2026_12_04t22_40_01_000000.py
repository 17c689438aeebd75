"""Refunds asked for before they named their goods paid for the goods they put back in stock,
as a refund naming none does now: a pending one then finishes paying for those.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-04T22:40:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "goods past refunds paid for"


async def backfill():
    await engine_finder().run_ddl("UPDATE refund SET returned = restock")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="payments", description=DESCRIPTION)
    manager.add_raw(backfill)
    return manager
