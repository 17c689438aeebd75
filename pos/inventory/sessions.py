"""Holding a receiving or count session open while a scan writes to it, and each scan once.

Confirming or finishing flips the session's status with one conditional UPDATE and then posts
its lines. A scan that only read the status could add to a line after the post; instead it takes
the session's row first, so it either commits before the flip (and is posted) or waits for it
and is refused. On SQLite the write transaction itself serialises them (BEGIN IMMEDIATE).

A tablet may send a scan again (it lost the answer): its Idempotency-Key is kept, UNIQUE, in the
scan's transaction, and a scan whose key is kept already adds nothing.
"""

from __future__ import annotations

from typing import Literal

from pos.inventory.tables import CountSession, ReceivingSession, ScanKey

__all__ = ["held_open", "new_scan"]


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


async def new_scan(
    kind: Literal["receiving", "count"], session_id: int, idempotency_key: str | None
) -> bool:
    """Keep the scan's key in the caller's transaction; False if a scan kept it before."""
    if idempotency_key is None:
        return True
    # A racing duplicate's insert waits for the first one's transaction, then inserts nothing.
    row = ScanKey(key=f"{kind}:{session_id}:{idempotency_key}")
    return bool(await ScanKey.insert(row).on_conflict(action="DO NOTHING").returning(ScanKey.id))
