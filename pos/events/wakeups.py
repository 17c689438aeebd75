"""Wake-ups across processes on PostgreSQL: workers LISTEN for the outbox's insert trigger.

`outbox.notify` only reaches workers in its own process; an event written by an app server would
wait for a separate `pos worker`'s next idle poll. A trigger on `outbox_event` (see the events
migrations) sends NOTIFY on commit when events due now are inserted, and `listen_for_events`
turns each notification into `outbox.notify()` in this process. LISTEN needs a session of its
own, so it holds one connection outside the pool; while that connection is down the workers
only poll, and after reconnecting they look once, for what was written meanwhile.
"""

from __future__ import annotations

from typing import Any

import anyio
import asyncpg
from piccolo.engine.postgres import PostgresEngine

from pos.db import current_engine
from pos.events.outbox import notify
from pos.logs import logger

__all__ = ["CHANNEL", "RECONNECT_SECONDS", "listen_for_events"]

CHANNEL = "outbox_event"
RECONNECT_SECONDS = 1.0


async def listen_for_events(stop: anyio.Event) -> None:
    """Until `stop` is set, call `notify()` whenever another process commits a due event."""
    engine = current_engine()
    if not isinstance(engine, PostgresEngine):
        return  # SQLite: one process, whose writers call notify() themselves
    while not stop.is_set():
        try:
            await _listen(engine.config, stop)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            logger.warning("outbox: not listening for events, polling", error=str(exc))
        with anyio.move_on_after(RECONNECT_SECONDS):
            await stop.wait()


async def _listen(config: dict[str, Any], stop: anyio.Event) -> None:
    """Listen on one connection until `stop` is set or the connection is lost."""
    connection = await asyncpg.connect(**config)
    try:
        with anyio.CancelScope() as lost:
            connection.add_termination_listener(lambda _: lost.cancel())
            await connection.add_listener(CHANNEL, lambda *_: notify())
            notify()  # events committed while no one listened
            await stop.wait()
    finally:
        with anyio.move_on_after(RECONNECT_SECONDS, shield=True):
            await connection.close()
    if not stop.is_set():
        logger.warning("outbox: the listening connection was lost, reconnecting")
