"""Outbox: index `available_at` over the events still to run only.

A claim walks `available_at` upwards from the oldest row; with the whole table indexed it first
stepped over every done event (36 ms a claim with 300,000 done). The partial index holds the
waiting, claimed and future events only, so a claim costs the same on day one and day 300.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz
from piccolo.engine import engine_finder

ID = "2026-12-02T17:27:00:902986"
VERSION = "1.38.0"
DESCRIPTION = "index the due outbox events only"


async def add_due_index():
    await engine_finder().run_ddl(
        "CREATE INDEX outbox_event_due ON outbox_event (available_at)"
        " WHERE done_at IS NULL AND dead_at IS NULL"
    )


async def drop_due_index():
    await engine_finder().run_ddl("DROP INDEX outbox_event_due")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="events", description=DESCRIPTION)

    manager.alter_column(
        table_class_name="OutboxEvent",
        tablename="outbox_event",
        column_name="available_at",
        db_column_name="available_at",
        params={"index": False},
        old_params={"index": True},
        column_class=Timestamptz,
        old_column_class=Timestamptz,
        schema=None,
    )
    manager.add_raw(add_due_index)
    manager.add_raw_backwards(drop_due_index)

    return manager
