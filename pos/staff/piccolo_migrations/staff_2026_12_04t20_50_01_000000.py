"""Device tokens' Idempotency-Keys are unique: an issue sent twice at once makes one token.

An index, not a UNIQUE column: SQLite cannot add one to a table. The keys the previous migration
added are all NULL, which a unique index allows any number of.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-04T20:50:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique device token keys"

_INDEX = "device_token_idempotency_key"


async def add():
    await engine_finder().run_ddl(f"CREATE UNIQUE INDEX {_INDEX} ON device_token (idempotency_key)")


async def drop():
    await engine_finder().run_ddl(f"DROP INDEX {_INDEX}")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="staff", description=DESCRIPTION)
    manager.add_raw(add)
    manager.add_raw_backwards(drop)
    return manager
