"""Batch rows: adding a received lot, taking units from lots, and the lists staff look at.

These join the caller's write transaction, which has already changed (and so, on PostgreSQL,
locked) the product's level row: two writers never take from the same lots at once.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pos.db import Statement, placeholders
from pos.errors import Conflict, NotFound
from pos.inventory.fefo import Lot, Take, after_first, fefo_key, plan_sale, plan_trim
from pos.inventory.levels import units_by
from pos.inventory.schemas import BatchOut
from pos.inventory.tables import StockBatch, StockLevel

__all__ = [
    "FreshStock",
    "add",
    "batch_out",
    "copy",
    "expiring",
    "fresh_stock",
    "get",
    "give_back",
    "lots",
    "plan_transfer",
    "sell",
    "sold_from",
    "take",
    "trim",
]

_B = StockBatch


@dataclass(frozen=True, slots=True)
class FreshStock:
    """A product's unexpired batches in the order a sale takes them, and the units orders hold."""

    lots: tuple[Lot, ...]
    held: int


async def add(
    store_id: int,
    product_id: int,
    units: int,
    *,
    lot: str,
    produced_on: date | None,
    expires_at: datetime | None,
    reference: str,
) -> int:
    """A new batch of `units` received now; returns its id."""
    row = _B(
        store=store_id,
        product=product_id,
        lot=lot,
        produced_on=produced_on,
        expires_at=expires_at,
        received_qty=units,
        remaining=units,
        reference=reference,
    )
    return int((await _B.insert(row).returning(_B.id))[0]["id"])


async def copy(part: Take, store_id: int, *, reference: str) -> int | None:
    """A new batch at `store_id` of the units taken, with their lot, production and expiry."""
    if part.batch_id is None:
        return None
    row = (
        await _B.select(_B.product, _B.lot, _B.produced_on, _B.expires_at)
        .where(_B.id == part.batch_id)
        .first()
    )
    if row is None:
        raise NotFound(f"no batch {part.batch_id}", code="batch_not_found")
    return await add(
        store_id,
        row["product"],
        part.units,
        lot=row["lot"],
        produced_on=row["produced_on"],
        expires_at=row["expires_at"],
        reference=reference,
    )


async def get(store_id: int, batch_id: int, now: datetime) -> BatchOut:
    """A batch of the store, or NotFound."""
    row = await _select().where((_B.id == batch_id) & (_B.store == store_id)).first()
    if row is None:
        raise NotFound(f"no batch {batch_id} in this store", code="batch_not_found")
    return batch_out(row, now)


async def lots(store_id: int, product_id: int) -> list[Lot]:
    """The product's batches with units left."""
    rows = await _B.select(_B.id, _B.remaining, _B.expires_at).where(
        (_B.store == store_id) & (_B.product == product_id) & (_B.remaining > 0)
    )
    return [Lot(row["id"], row["remaining"], row["expires_at"]) for row in rows]


async def plan_transfer(store_id: int, product_id: int, units: int, now: datetime) -> list[Take]:
    """The batches a transfer of `units` takes from: as a sale would, after what orders hold.

    The caller has locked the level row (`ledger.locked_level`): no sale takes from them meanwhile.
    """
    on_hand, held = await _level(store_id, product_id)
    planned = plan_sale(await lots(store_id, product_id), held + units, on_hand, now)
    return after_first(planned, held)


async def take(batch_id: int, units: int) -> None:
    """Take `units` from a batch; Conflict when it has fewer left."""
    taken = (
        await _B.update({_B.remaining: _B.remaining - units})
        .where((_B.id == batch_id) & (_B.remaining >= units))
        .returning(_B.id)
    )
    if not taken:
        raise Conflict(f"batch {batch_id} has fewer than {units} left", code="batch_short")


async def give_back(batch_id: int, units: int) -> None:
    """Put `units` a sale took from the batch back into it: a refund's returned goods."""
    await _B.update({_B.remaining: _B.remaining + units}).where(_B.id == batch_id)


# Hand-written: a grouped sum over a join, plainer in SQL than in Piccolo's query builder. What a
# sale took from each batch, less what its refunds have put back since.
_SOLD_FROM = Statement(
    "SELECT m.batch AS id, b.expires_at, -SUM(m.delta) AS remaining"
    " FROM stock_movement m JOIN stock_batch b ON b.id = m.batch"
    " WHERE m.store = {} AND m.product = {} AND m.reference = {} AND m.kind IN ('sale', 'return')"
    " GROUP BY m.batch, b.expires_at"
)


async def sold_from(store_id: int, product_id: int, reference: str) -> list[Lot]:
    """The batches the sale `reference` took the product from, with its units not back yet."""
    rows = await _SOLD_FROM.rows(store_id, product_id, reference)
    return [Lot(row["id"], row["remaining"], row["expires_at"]) for row in rows]


async def sell(
    store_id: int, sold: Mapping[int, tuple[int, int]], now: datetime
) -> dict[int, list[Take]]:
    """Take each product's sold units first expired, first out; what came from which batch.

    `sold` maps a product id to (units sold, units on hand before the sale).
    """
    lots = _by_product(await _lots_of(len(sold)).rows(store_id, *sold))
    takes = {
        product_id: plan_sale(lots.get(product_id, []), units, on_hand_before, now)
        for product_id, (units, on_hand_before) in sold.items()
    }
    await _take_all(
        {part.batch_id: part.units for parts in takes.values() for part in parts if part.batch_id}
    )
    return takes


# Hand-written: run with every order and every sale, where Piccolo's query building cost more
# than the query.
@functools.cache
def _lots_of(products: int) -> Statement:
    """The store's batches with units left of that many products, and the products' held units."""
    return Statement(
        "SELECT b.id, b.product, b.remaining, b.expires_at, l.held"  # noqa: S608 (placeholders)
        " FROM stock_batch b JOIN stock_level l ON l.store = b.store AND l.product = b.product"
        f" WHERE b.store = {{}} AND b.product IN ({placeholders(products)}) AND b.remaining > 0"
    )


def _by_product(rows: Sequence[dict[str, Any]]) -> dict[int, list[Lot]]:
    lots: dict[int, list[Lot]] = {}
    for row in rows:
        lots.setdefault(row["product"], []).append(
            Lot(row["id"], row["remaining"], row["expires_at"])
        )
    return lots


async def _take_all(units: dict[int, int]) -> None:
    """`take` for many batches in one statement."""
    if not units:
        return
    ids = sorted(units)
    per_batch = units_by("id", [(batch_id, units[batch_id]) for batch_id in ids])
    taken = await _B.raw(
        "UPDATE stock_batch SET remaining = remaining - {} WHERE {} AND remaining >= {}"
        " RETURNING id",
        per_batch,
        _B.id.is_in(ids).querystring,
        per_batch,
    )
    short = set(ids) - {row["id"] for row in taken}
    if short:
        batch_id = min(short)
        raise Conflict(
            f"batch {batch_id} has fewer than {units[batch_id]} left", code="batch_short"
        )


async def trim(store_id: int, product_id: int, now: datetime) -> None:
    """After the level went down without naming a batch, keep the batches within it."""
    on_hand, _ = await _level(store_id, product_id)
    for part in plan_trim(await lots(store_id, product_id), on_hand):
        if part.batch_id is not None:
            await take(part.batch_id, part.units)


async def _level(store_id: int, product_id: int) -> tuple[int, int]:
    """The product's units on hand and held by orders here."""
    row = (
        await StockLevel.select(StockLevel.on_hand, StockLevel.held)
        .where((StockLevel.store == store_id) & (StockLevel.product == product_id))
        .first()
    )
    return (int(row["on_hand"]), int(row["held"])) if row else (0, 0)


async def fresh_stock(
    store_id: int, product_ids: Collection[int], now: datetime
) -> dict[int, FreshStock]:
    """For each product with batches left: its unexpired ones, first sold first, and its holds."""
    if not product_ids:
        return {}
    rows = await _lots_of(len(product_ids)).rows(store_id, *product_ids)
    held = {row["product"]: row["held"] for row in rows}
    return {
        product_id: FreshStock(
            tuple(sorted((lot for lot in lots if not lot.expired(now)), key=fefo_key)),
            held[product_id],
        )
        for product_id, lots in _by_product(rows).items()
    }


async def expiring(store_id: int, until: datetime, now: datetime) -> list[BatchOut]:
    """Batches with units left that expire by `until`, expired ones included, soonest first."""
    rows = (
        await _select()
        .where((_B.store == store_id) & (_B.remaining > 0) & (_B.expires_at <= until))
        .order_by(_B.expires_at)
        .order_by(_B.id)
    )
    return [batch_out(row, now) for row in rows]


def _select() -> Any:
    return _B.select(
        _B.id,
        _B.store,
        _B.product,
        _B.product._.name_zh.as_alias("product_name"),
        _B.lot,
        _B.produced_on,
        _B.expires_at,
        _B.received_qty,
        _B.remaining,
        _B.received_at,
        _B.reference,
    )


def batch_out(row: dict[str, Any], now: datetime) -> BatchOut:
    """The API's view of a batch row."""
    expires_at = row["expires_at"]
    return BatchOut(
        id=row["id"],
        store_id=row["store"],
        product_id=row["product"],
        product_name=row["product_name"],
        lot=row["lot"],
        produced_on=row["produced_on"],
        expires_at=expires_at,
        received_qty=row["received_qty"],
        remaining=row["remaining"],
        received_at=row["received_at"],
        reference=row["reference"],
        expired=expires_at is not None and expires_at <= now,
    )
