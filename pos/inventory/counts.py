"""Stock counts: a session, scanned counts, a variance report, corrections as count movements.

Each line's count holds as of the time its last unit was scanned: sales during the count come
on top of it (see ledger.py). Finishing posts the counts once, like confirming a receiving.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pos.db import write_transaction
from pos.db.keyed import once_per_key
from pos.errors import Conflict, NotFound
from pos.inventory import ledger
from pos.inventory.ledger import Entry
from pos.inventory.scans import scanned_product
from pos.inventory.schemas import MAX_STOCK_QUANTITY, CountLineOut, CountOut, CountScanIn
from pos.inventory.sessions import held_open, new_scan
from pos.inventory.tables import CountLine, CountSession

__all__ = ["finish", "get_count", "scan", "start"]

_C = CountSession
_L = CountLine


async def start(store_id: int, *, actor: str, idempotency_key: str | None) -> CountOut:
    """Open a count session; a repeated key opens none and returns the first."""
    key = f"store:{store_id}:{idempotency_key}" if idempotency_key else None

    async def opened() -> int:
        row = _C(store=store_id, started_by=actor, idempotency_key=key)
        return int((await _C.insert(row).returning(_C.id))[0]["id"])

    return await get_count(store_id, await once_per_key(key, _by_key, opened))


async def _by_key(key: str) -> int | None:
    row = await _C.select(_C.id).where(_C.idempotency_key == key).first()
    return None if row is None else int(row["id"])


async def scan(
    store_id: int, session_id: int, data: CountScanIn, *, idempotency_key: str | None
) -> CountOut:
    """Add counted units of a product to the session; a repeated key adds nothing and answers
    with the count as it is."""
    product = await scanned_product(store_id, data.product_id, data.barcode)
    at = ledger.reported_time(data.counted_at, datetime.now(UTC))
    async with write_transaction():
        if await new_scan("count", session_id, idempotency_key):
            await _open(store_id, session_id)
            await _add(session_id, product.id, data.quantity, at)
    return await get_count(store_id, session_id)


async def _add(session_id: int, product_id: int, units: int, at: datetime) -> None:
    line = (
        await _L.select(_L.id, _L.counted, _L.counted_at)
        .where((_L.session == session_id) & (_L.product == product_id))
        .first()
    )
    if line is None:
        row = _L(session=session_id, product=product_id, counted=units, counted_at=at)
        await _L.insert(row)
    else:
        await _add_to(line, product_id, units, at)


async def _add_to(line: dict[str, Any], product_id: int, units: int, at: datetime) -> None:
    """Add units counted `at` to a line: it holds as of its last scan."""
    if line["counted"] + units > MAX_STOCK_QUANTITY:
        raise ledger.over_limit(product_id, line["counted"] + units)
    await _L.update(
        {_L.counted: _L.counted + units, _L.counted_at: max(at, line["counted_at"])}
    ).where(_L.id == line["id"])


async def finish(store_id: int, session_id: int, *, actor: str) -> CountOut:
    """Post each line as a count (once), freezing the variance report."""
    async with write_transaction():
        flipped = (
            await _C.update(
                {_C.status: "finished", _C.finished_by: actor, _C.finished_at: datetime.now(UTC)}
            )
            .where((_C.id == session_id) & (_C.store == store_id) & (_C.status == "open"))
            .returning(_C.id)
        )
        if flipped:
            await _post(store_id, session_id, actor)
    return await get_count(store_id, session_id)


async def _post(store_id: int, session_id: int, actor: str) -> None:
    lines = await _L.select().where(_L.session == session_id).order_by(_L.product)
    for line in lines:
        # Locked first: a sale committing between level_at's two reads would count twice.
        await ledger.locked_level(store_id, line["product"], datetime.now(UTC))
        expected = await ledger.level_at(store_id, line["product"], line["counted_at"])
        await _L.update({_L.expected: expected}).where(_L.id == line["id"])
        entry = Entry(
            actor, f"count session {session_id}", f"count:{session_id}", line["counted_at"]
        )
        await ledger.count(store_id, line["product"], line["counted"], entry)


async def _open(store_id: int, session_id: int) -> None:
    if await held_open(_C, store_id, session_id):
        return
    if not await _C.exists().where((_C.id == session_id) & (_C.store == store_id)):
        raise NotFound(f"no count {session_id} here", code="count_not_found")
    raise Conflict("this count is finished", code="count_finished")


async def get_count(store_id: int, session_id: int) -> CountOut:
    """A count session and its variance: counted against the ledger's level at each count."""
    row = await _C.select().where((_C.id == session_id) & (_C.store == store_id)).first()
    if row is None:
        raise NotFound(f"no count {session_id} here", code="count_not_found")
    lines = (
        await _L.select(*_L.all_columns(), _L.product._.name_zh.as_alias("product_name"))
        .where(_L.session == session_id)
        .order_by(_L.product)
    )
    return CountOut(
        id=row["id"],
        store_id=store_id,
        status=row["status"],
        started_by=row["started_by"],
        started_at=row["started_at"],
        finished_by=row["finished_by"],
        finished_at=row["finished_at"],
        lines=[await _line_out(store_id, line) for line in lines],
    )


async def _line_out(store_id: int, row: dict[str, Any]) -> CountLineOut:
    expected = row["expected"]
    if expected is None:
        expected = await ledger.level_at(store_id, row["product"], row["counted_at"])
    return CountLineOut(
        product_id=row["product"],
        product_name=row["product_name"],
        counted=row["counted"],
        counted_at=row["counted_at"],
        expected=expected,
        variance=row["counted"] - expected,
    )
