"""PLUs are kept as 5 digits: pad the 4-digit ones stored before, so their labels still match.

Where a store had both 1234 and 01234 (two names of one PLU), the 5-digit row stands.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-02T21:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "PLUs as 5 digits"

_DROP_TWINS = (
    "DELETE FROM plu WHERE length(plu) = 4 AND EXISTS"
    " (SELECT 1 FROM plu padded WHERE padded.store = plu.store AND padded.plu = '0' || plu.plu)"
)
_PAD = "UPDATE plu SET plu = '0' || plu WHERE length(plu) = 4"


async def pad():
    engine = engine_finder()
    await engine.run_ddl(_DROP_TWINS)
    await engine.run_ddl(_PAD)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="orders", description=DESCRIPTION)
    manager.add_raw(pad)
    return manager
