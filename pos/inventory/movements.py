"""Stock changes staff record on a tablet, transfers between stores, and the audit trail.

A tablet may send a change again (it lost the answer, or was offline): with an Idempotency-Key
the ledger's UNIQUE column keeps one row, and the repeat gets that row back.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from pos.catalog import service as catalog
from pos.db.keyed import once_per_key
from pos.errors import InvalidInput, NotFound
from pos.inventory import batches, ledger
from pos.inventory.fefo import Take
from pos.inventory.ledger import Entry
from pos.inventory.levels import store_stock
from pos.inventory.schemas import MovementIn, MovementOut, StockOut, TransferIn
from pos.inventory.tables import StockMovement
from pos.stores import service as stores

__all__ = ["by_key", "history", "levels", "record", "transfer"]

_M = StockMovement


async def record(
    store_id: int, data: MovementIn, *, actor: str, idempotency_key: str | None
) -> MovementOut:
    """Record an adjustment, write-off, return or count; a repeated key returns the first."""
    await catalog.get_product(data.product_id)
    key = f"store:{store_id}:{idempotency_key}" if idempotency_key else None
    entry = Entry(actor, data.reason, "tablet", data.occurred_at, key)
    return await once_per_key(key, by_key, lambda: _apply(store_id, data, entry))


async def _apply(store_id: int, data: MovementIn, entry: Entry) -> MovementOut:
    pid, quantity = data.product_id, data.quantity
    if data.kind == "count":
        return await ledger.count(store_id, pid, quantity, entry)
    if quantity == 0 or (data.kind != "adjustment" and quantity < 0):
        raise InvalidInput(f"{data.kind} of {quantity} units", code="movement_quantity")
    if data.kind == "adjustment":
        return await ledger.move(store_id, pid, quantity, "adjustment", entry)
    if data.kind == "return":
        return await ledger.move(store_id, pid, quantity, "return", entry)
    if data.batch_id is not None:
        await _check_batch(store_id, pid, data.batch_id)
    return await ledger.move(store_id, pid, -quantity, "write_off", entry, batch_id=data.batch_id)


async def _check_batch(store_id: int, product_id: int, batch_id: int) -> None:
    found = await batches.lots(store_id, product_id)
    if all(lot.id != batch_id for lot in found):
        raise NotFound(f"no batch {batch_id} of this product here", code="batch_not_found")


async def by_key(key: str) -> MovementOut | None:
    """The movement recorded under a scoped key (`store:<id>:<key>`), if one was."""
    row = await _M.select(*_M.all_columns()).where(_M.idempotency_key == key).first()
    return None if row is None else ledger.movement_out(row)


async def transfer(
    store_id: int, data: TransferIn, *, actor: str, idempotency_key: str | None
) -> list[MovementOut]:
    """Move units to another store, out first; a repeated key returns the first movements."""
    if data.to_store_id == store_id:
        raise InvalidInput("a transfer goes to another store", code="transfer_same_store")
    key = f"store:{store_id}:{idempotency_key}" if idempotency_key else None

    async def moved() -> list[MovementOut]:
        await catalog.get_product(data.product_id)
        await stores.store_rules(data.to_store_id)
        return await _transfer(store_id, data, actor, key)

    return await once_per_key(key, _transfer_by_key, moved)


async def _transfer(
    store_id: int, data: TransferIn, actor: str, key: str | None
) -> list[MovementOut]:
    """One movement per batch taken (FEFO) on each side; the receiving side gets the batches."""
    to, product_id = data.to_store_id, data.product_id
    now = datetime.now(UTC)
    # Both level rows are locked before the batches are read, as a sale locks its level before
    # taking from them: no sale takes the units planned here before they move. Stores in id
    # order: two opposite transfers never wait for each other's rows.
    for at in sorted((store_id, to)):
        await ledger.locked_level(at, product_id, now)
    takes = await batches.plan_transfer(store_id, product_id, data.quantity, now)
    n = len(takes)
    out = _keyed(Entry(actor, data.reason, f"transfer:to:{to}"), key, range(n))
    into = _keyed(Entry(actor, data.reason, f"transfer:from:{store_id}"), key, range(n, 2 * n))
    sent = await _send(store_id, product_id, takes, out)
    return sent + await _receive(to, product_id, takes, into)


def _keyed(entry: Entry, key: str | None, numbers: range) -> list[Entry]:
    """One entry per movement, keyed by the transfer's key and the movement's number."""
    return [replace(entry, idempotency_key=f"{key}:{n}" if key else None) for n in numbers]


async def _send(
    store_id: int, product_id: int, takes: list[Take], entries: list[Entry]
) -> list[MovementOut]:
    return [
        await ledger.move(
            store_id, product_id, -part.units, "transfer", entry, batch_id=part.batch_id
        )
        for part, entry in zip(takes, entries, strict=True)
    ]


async def _receive(
    store_id: int, product_id: int, takes: list[Take], entries: list[Entry]
) -> list[MovementOut]:
    """The sent units, each batch's part as a batch of the same lot and expiry here."""
    return [
        await ledger.move(
            store_id,
            product_id,
            part.units,
            "transfer",
            entry,
            batch_id=await batches.copy(part, store_id, reference=entry.reference),
        )
        for part, entry in zip(takes, entries, strict=True)
    ]


async def _transfer_by_key(key: str) -> list[MovementOut] | None:
    """The movements a transfer recorded under `key`, in its answer's order; None if none."""
    moved: list[MovementOut] = []
    while (movement := await by_key(f"{key}:{len(moved)}")) is not None:
        moved.append(movement)
    return moved or None


async def history(
    store_id: int, *, product_id: int | None, before_id: int | None, limit: int
) -> list[MovementOut]:
    """The store's movements, newest first; page with `before_id`."""
    where: Any = _M.store == store_id
    if product_id is not None:
        where &= _M.product == product_id
    if before_id is not None:
        where &= _M.id < before_id
    rows = (
        await _M.select(*_M.all_columns())
        .where(where)
        .order_by(_M.id, ascending=False)
        .limit(limit)
    )
    return [ledger.movement_out(row) for row in rows]


async def levels(store_id: int) -> list[StockOut]:
    """Every product level of the store; what expired batches hold is not available."""
    stock = await store_stock(store_id, datetime.now(UTC))
    return [
        StockOut(
            store_id=store_id,
            product_id=product_id,
            on_hand=level.on_hand,
            held=level.held,
            available=level.available,
        )
        for product_id, level in stock.items()
    ]
