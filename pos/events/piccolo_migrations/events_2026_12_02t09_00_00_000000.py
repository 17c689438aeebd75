"""Outbox: on PostgreSQL, NOTIFY the listening workers when events due now are inserted.

One notification per inserting statement, sent at commit (PostgreSQL folds repeats within a
transaction); events due later (hold expiries, polls) wake no one. `available_at` comes from the
app's clock during the transaction, so it is compared with the wall clock (not `now()`, the
transaction's start), with a second's slack for clocks of different hosts.
SQLite has one process: nothing to do there.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-02T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "notify on insert"

_FUNCTION = """
CREATE FUNCTION outbox_event_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM inserted WHERE available_at <= clock_timestamp() + interval '1 second') THEN
        PERFORM pg_notify('outbox_event', '');
    END IF;
    RETURN NULL;
END $$
"""
_TRIGGER = """
CREATE TRIGGER outbox_event_notify AFTER INSERT ON outbox_event
REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION outbox_event_notify()
"""


async def add():
    engine = engine_finder()
    if engine.engine_type == "postgres":
        await engine.run_ddl(_FUNCTION)
        await engine.run_ddl(_TRIGGER)


async def drop():
    engine = engine_finder()
    if engine.engine_type == "postgres":
        await engine.run_ddl("DROP TRIGGER outbox_event_notify ON outbox_event")
        await engine.run_ddl("DROP FUNCTION outbox_event_notify()")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="events", description=DESCRIPTION)
    manager.add_raw(add)
    manager.add_raw_backwards(drop)
    return manager
