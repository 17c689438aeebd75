"""Stock: one row per store and product; held within 0..on_hand.

SQLite has no ALTER TABLE ADD CONSTRAINT, so triggers keep the range there.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-28T13:32:41:131028"
VERSION = "1.38.0"
DESCRIPTION = "constraints"

_UNIQUE = "CREATE UNIQUE INDEX stock_level_store_product ON stock_level (store, product)"
_CHECK = "held >= 0 AND held <= on_hand"
_SQLITE_GUARD = """
CREATE TRIGGER stock_level_in_range_{when} BEFORE {when} ON stock_level
WHEN NOT (NEW.held >= 0 AND NEW.held <= NEW.on_hand)
BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: stock_level_in_range'); END
"""


async def add():
    engine = engine_finder()
    await engine.run_ddl(_UNIQUE)
    if engine.engine_type == "sqlite":
        for when in ("INSERT", "UPDATE"):
            await engine.run_ddl(_SQLITE_GUARD.format(when=when))
    else:
        await engine.run_ddl(
            f"ALTER TABLE stock_level ADD CONSTRAINT stock_level_in_range CHECK ({_CHECK})"
        )


async def drop():
    engine = engine_finder()
    await engine.run_ddl("DROP INDEX stock_level_store_product")
    if engine.engine_type == "sqlite":
        for when in ("insert", "update"):
            await engine.run_ddl(f"DROP TRIGGER stock_level_in_range_{when}")
    else:
        await engine.run_ddl("ALTER TABLE stock_level DROP CONSTRAINT stock_level_in_range")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="inventory", description=DESCRIPTION)
    manager.add_raw(add)
    manager.add_raw_backwards(drop)
    return manager
