"""Stock for orders: read a level, hold stock for an order, release it, sell it, take returns.

Each change is one conditional UPDATE per product, so two buyers never take the same unit
(STACK.md pitfall 3), and products are always touched in id order, so concurrent orders never
deadlock on PostgreSQL. They join the caller's write transaction: when one raises, the caller's
transaction rolls back and no product stays changed.
Holds are reservations, not movements; a sale and a return are written to the ledger, a sale
taking its units batch by batch, first expired first out. Units of an expired batch are not
available to new holds. Units are pieces, or grams for products sold by the kg.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from piccolo.query import WhereRaw

from pos.db import write_transaction
from pos.errors import Conflict, InvalidInput
from pos.inventory import batches, ledger
from pos.inventory.fefo import Rule, markdown_percent
from pos.inventory.ledger import Entry
from pos.inventory.schemas import StockOut
from pos.inventory.tables import MarkdownRule, StockBatch, StockLevel

__all__ = [
    "Units",
    "commit_sale",
    "get_level",
    "hold",
    "markdown_percents",
    "release",
    "restock",
    "set_level",
]

Units = Mapping[int, int]
"""Product id -> pieces or grams."""

_S = StockLevel
_B = StockBatch


def _row(store_id: int, product_id: int) -> Any:
    return (_S.store == store_id) & (_S.product == product_id)


def _in_id_order(units: Units) -> list[tuple[int, int]]:
    for product_id, n in units.items():
        if n <= 0:
            raise InvalidInput(f"product {product_id}: {n} units is not a positive amount")
    return sorted(units.items())


async def get_level(store_id: int, product_id: int) -> StockOut:
    """The stock of a product at a store (zero when never set): one row, whatever the ledger."""
    row = await _S.select(_S.on_hand, _S.held).where(_row(store_id, product_id)).first()
    on_hand, held = (row["on_hand"], row["held"]) if row else (0, 0)
    return StockOut(
        store_id=store_id,
        product_id=product_id,
        on_hand=on_hand,
        held=held,
        available=on_hand - held,
    )


async def set_level(
    store_id: int, product_id: int, on_hand: int, *, actor: str = "system"
) -> StockOut:
    """Set what is on the shelf (a count, now); refused below what unpaid orders hold."""
    async with write_transaction():
        await ledger.count(store_id, product_id, on_hand, Entry(actor, reason="level set"))
    return await get_level(store_id, product_id)


async def hold(store_id: int, units: Units) -> None:
    """Hold stock for an order; `Conflict` out_of_stock or batch_expired, naming the product."""
    now = datetime.now(UTC)
    async with write_transaction():
        ordered = _in_id_order(units)
        expired = await _expired_units(store_id, [product_id for product_id, _ in ordered], now)
        for product_id, n in ordered:
            spoiled = expired.get(product_id, 0)
            held = (
                await _S.update({_S.held: _S.held + n, _S.updated_at: now})
                .where(
                    _row(store_id, product_id) & WhereRaw("on_hand - held - {} >= {}", spoiled, n)
                )
                .returning(_S.id)
            )
            if not held:
                raise await _not_holdable(store_id, product_id, n, spoiled)


async def _not_holdable(store_id: int, product_id: int, n: int, spoiled: int) -> Conflict:
    if spoiled and (await get_level(store_id, product_id)).available >= n:
        return Conflict(
            f"product {product_id}: the units left here are past their expiry",
            code="batch_expired",
            product_id=product_id,
        )
    return Conflict(
        f"product {product_id} does not have {n} left in this store",
        code="out_of_stock",
        product_id=product_id,
    )


async def _expired_units(store_id: int, product_ids: list[int], now: datetime) -> dict[int, int]:
    rows = await _B.select(_B.product, _B.remaining).where(
        (_B.store == store_id)
        & _B.product.is_in(product_ids)
        & (_B.remaining > 0)
        & (_B.expires_at <= now)
    )
    expired: dict[int, int] = {}
    for row in rows:
        expired[row["product"]] = expired.get(row["product"], 0) + row["remaining"]
    return expired


async def release(store_id: int, units: Units) -> None:
    """Give held stock back to sale (an order closed unpaid)."""
    now = datetime.now(UTC)
    async with write_transaction():
        for product_id, n in _in_id_order(units):
            await _unhold(store_id, product_id, n, sold=False, now=now)


async def commit_sale(store_id: int, units: Units, *, reference: str = "") -> None:
    """Turn held stock into sold stock, batch by batch (FEFO), with one ledger row per batch."""
    now = datetime.now(UTC)
    entry = Entry("order", reason="sale", reference=reference)
    async with write_transaction():
        for product_id, n in _in_id_order(units):
            on_hand, counted_at = await _unhold(store_id, product_id, n, sold=True, now=now)
            # A count that won the row lock first includes nothing of this sale: it comes after.
            sold_at = ledger.after_counts(now, counted_at)
            for part in await batches.sell(store_id, product_id, n, on_hand + n, now):
                await ledger.append(
                    store_id,
                    product_id,
                    "sale",
                    -part.units,
                    entry,
                    occurred_at=sold_at,
                    batch_id=part.batch_id,
                )


async def _unhold(
    store_id: int, product_id: int, n: int, *, sold: bool, now: datetime
) -> tuple[int, datetime | None]:
    values: dict[Any, Any] = {_S.held: _S.held - n, _S.updated_at: now}
    if sold:
        values[_S.on_hand] = _S.on_hand - n
    changed = (
        await _S.update(values)
        .where(_row(store_id, product_id) & (_S.held >= n))
        .returning(_S.on_hand, _S.counted_at)
    )
    if not changed:
        # Only a bug gets here: the order's hold is gone. Refuse rather than go negative.
        raise Conflict(
            f"product {product_id}: {n} units are not held in this store",
            code="hold_missing",
            product_id=product_id,
        )
    return int(changed[0]["on_hand"]), changed[0]["counted_at"]


async def restock(store_id: int, units: Units, *, reference: str = "") -> None:
    """Put returned goods back on the shelf: one `return` movement per product."""
    entry = Entry("order", reason="returned by the shopper", reference=reference)
    async with write_transaction():
        for product_id, n in _in_id_order(units):
            await ledger.move(store_id, product_id, n, "return", entry)


async def markdown_percents(
    store_id: int, product_ids: Collection[int], now: datetime | None = None
) -> dict[int, int]:
    """Shelf-life markdown per product now: by the store's rules and the batch sold first."""
    moment = now or datetime.now(UTC)
    rows = await MarkdownRule.select().where(MarkdownRule.store == store_id)
    if not rows or not product_ids:
        return {}
    rules = [Rule(row["product"], row["within_hours"], row["percent"]) for row in rows]
    first = await batches.first_fresh(store_id, product_ids, moment)
    found = {pid: markdown_percent(pid, first.get(pid), rules, moment) for pid in product_ids}
    return {pid: percent for pid, percent in found.items() if percent}
