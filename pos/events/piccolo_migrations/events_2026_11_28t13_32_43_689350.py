"""Outbox: one event per (kind, key), so emitting twice is a no-op."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-28T13:32:43:689350"
VERSION = "1.38.0"
DESCRIPTION = "constraints"

async def add():
    await engine_finder().run_ddl(
        "CREATE UNIQUE INDEX outbox_event_kind_key ON outbox_event (kind, key)"
    )


async def drop():
    await engine_finder().run_ddl("DROP INDEX outbox_event_kind_key")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="events", description=DESCRIPTION)
    manager.add_raw(add)
    manager.add_raw_backwards(drop)
    return manager
