"""For PostgreSQL race tests: wait until a transaction runs through, or waits for a lock."""

from __future__ import annotations

from collections.abc import Callable

import anyio

from pos.db import Statement

__all__ = ["done_or_waiting_for_a_lock"]

_LOCK_WAITS = Statement(
    "SELECT count(*) AS waiting FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
    " WHERE NOT l.granted AND a.datname = current_database()"
)


async def done_or_waiting_for_a_lock(done: Callable[[], bool]) -> None:
    """Return once `done()` is true or a transaction of this database waits for a lock."""
    with anyio.fail_after(5):
        while not done():
            row = await _LOCK_WAITS.first()
            if row is not None and row["waiting"]:
                return
            await anyio.sleep(0.01)
