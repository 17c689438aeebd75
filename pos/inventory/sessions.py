"""Holding a receiving or count session open while a scan writes to it.

Confirming or finishing flips the session's status with one conditional UPDATE and then posts
its lines. A scan that only read the status could add to a line after the post; instead it takes
the session's row first, so it either commits before the flip (and is posted) or waits for it
and is refused. On SQLite the write transaction itself serialises them (BEGIN IMMEDIATE).
"""

from __future__ import annotations

from pos.inventory.tables import CountSession, ReceivingSession

__all__ = ["held_open"]


async def held_open(
    table: type[ReceivingSession] | type[CountSession], store_id: int, session_id: int
) -> bool:
    """Lock the store's session until the caller's transaction ends; False if it is not open."""
    held = (
        await table.update({table.status: "open"})
        .where((table.id == session_id) & (table.store == store_id) & (table.status == "open"))
        .returning(table.id)
    )
    return bool(held)
