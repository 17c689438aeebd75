"""Stock for orders: read a level, hold stock for an order, release it, sell it, take returns.

Each change is one conditional UPDATE of all the order's products (`levels`), so two buyers
never take the same unit (STACK.md pitfall 3), and their rows are locked in product id order,
so concurrent orders never deadlock on PostgreSQL. They join the caller's write transaction:
when one raises, the caller's transaction rolls back and no product stays changed.
Holds are reservations, not movements; a sale and a return are written to the ledger, a sale
taking its units batch by batch, first expired first out. Units of an expired batch are not
available to new holds. Units are pieces, or grams for products sold by the kg.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from pos.db import Statement, write_transaction
from pos.errors import Conflict, InvalidInput
from pos.inventory import batches, ledger, levels
from pos.inventory.fefo import Lot, Markdown, Rule, Take, after_first, marked_down, plan_return
from pos.inventory.ledger import Entry
from pos.inventory.schemas import StockOut

__all__ = [
    "Markdown",
    "Rule",
    "Units",
    "commit_sale",
    "get_level",
    "hold",
    "markdown_rules",
    "markdowns",
    "release",
    "restock",
    "set_level",
]

Units = Mapping[int, int]
"""Product id -> pieces or grams."""

_MARKDOWN_RULES = Statement(
    "SELECT product, within_hours, percent FROM markdown_rule"
    " WHERE store = {} AND retired_at IS NULL"
)


def _in_id_order(units: Units) -> list[tuple[int, int]]:
    for product_id, n in units.items():
        if n <= 0:
            raise InvalidInput(f"product {product_id}: {n} units is not a positive amount")
    return sorted(units.items())


async def get_level(store_id: int, product_id: int) -> StockOut:
    """The stock of a product at a store (zero when never set): one row and its expired
    batches, whatever the ledger."""
    stock = await _stock(store_id, product_id, datetime.now(UTC))
    return StockOut(
        store_id=store_id,
        product_id=product_id,
        on_hand=stock.on_hand,
        held=stock.held,
        available=stock.available,
    )


async def _stock(store_id: int, product_id: int, now: datetime) -> levels.Stock:
    found = await levels.stock(store_id, [product_id], now)
    return found.get(product_id, levels.Stock())


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
    ordered = _in_id_order(units)
    async with write_transaction():
        held = await levels.hold(store_id, ordered, now)
        for product_id, n in ordered:
            if product_id not in held:
                raise await _not_holdable(store_id, product_id, n, now)


async def _not_holdable(store_id: int, product_id: int, n: int, now: datetime) -> Conflict:
    stock = await _stock(store_id, product_id, now)
    if stock.expired and stock.on_hand - stock.held >= n:
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


async def release(store_id: int, units: Units) -> None:
    """Give held stock back to sale (an order closed unpaid)."""
    ordered = _in_id_order(units)
    async with write_transaction():
        await _unhold(store_id, ordered, sold=False, now=datetime.now(UTC))


async def commit_sale(store_id: int, units: Units, *, reference: str = "") -> None:
    """Turn held stock into sold stock, batch by batch (FEFO), with one ledger row per batch."""
    now = datetime.now(UTC)
    entry = Entry("order", reason="sale", reference=reference)
    ordered = _in_id_order(units)
    async with write_transaction():
        after = await _unhold(store_id, ordered, sold=True, now=now)
        sold = {product_id: (n, after[product_id][0] + n) for product_id, n in ordered}
        takes = await batches.sell(store_id, sold, now)
        await ledger.append_all(
            [
                # A count that won the row lock first includes nothing of this sale: after it.
                ledger.movement(
                    store_id,
                    product_id,
                    "sale",
                    -part.units,
                    entry,
                    occurred_at=ledger.after_counts(now, after[product_id][1]),
                    batch_id=part.batch_id,
                )
                for product_id, parts in takes.items()
                for part in parts
            ]
        )


async def _unhold(
    store_id: int, ordered: list[tuple[int, int]], *, sold: bool, now: datetime
) -> dict[int, levels.Level]:
    changed = await levels.unhold(store_id, ordered, sold=sold, now=now)
    for product_id, n in ordered:
        if product_id not in changed:
            # Only a bug gets here: the order's hold is gone. Refuse rather than go negative.
            raise Conflict(
                f"product {product_id}: {n} units are not held in this store",
                code="hold_missing",
                product_id=product_id,
            )
    return changed


async def restock(
    store_id: int,
    units: Units,
    *,
    actor: str,
    why: str,
    reference: str,
    occurred_at: datetime | None = None,
) -> None:
    """Put goods a shopper returned back on the shelf: `return` movements by `actor`.

    They go back into the batches their sale (`reference`, e.g. order:12) took them from, so they
    expire with them (`fefo.plan_return`): one movement per batch. `occurred_at` is when they
    came back (None: now): a count taken since has counted them, so their movements are recorded
    but not applied, and the batches stay as that count left them.
    """
    entry = Entry(
        actor, reason=why or "returned by the shopper", reference=reference, occurred_at=occurred_at
    )
    async with write_transaction():
        for product_id, n in _in_id_order(units):
            sold_from = await batches.sold_from(store_id, product_id, reference)
            for part in plan_return(sold_from, n):
                moved = await ledger.move(
                    store_id, product_id, part.units, "return", entry, batch_id=part.batch_id
                )
                if moved.applied and part.batch_id is not None:
                    await batches.give_back(part.batch_id, part.units)


async def markdown_rules(store_id: int) -> tuple[Rule, ...]:
    """The store's shelf-life markdown rules not retired, read once for an order's `markdowns`."""
    rows = await _MARKDOWN_RULES.rows(store_id)
    return tuple(Rule(row["product"], row["within_hours"], row["percent"]) for row in rows)


async def markdowns(
    store_id: int,
    rules: Sequence[Rule],
    product_ids: Collection[int],
    now: datetime,
    *,
    held_here: Units,
) -> dict[int, tuple[Markdown, ...]]:
    """Shelf-life markdowns now, batch by batch first sold first, for the products that have one.

    They cover what is left in the marked-down batches beyond what other orders hold (a sale
    gives them the batches sold first). `held_here` is what the caller's transaction has just
    held for its order: that hold locked the products' level rows (on SQLite, the database), so
    the holds read here stay as they are until the commit and no two orders are given the same
    marked-down units.
    """
    if not rules or not product_ids:
        return {}
    stock = await batches.fresh_stock(store_id, product_ids, now)
    found = {
        product_id: marked_down(
            product_id, _unheld(fresh.lots, fresh.held - held_here.get(product_id, 0)), rules, now
        )
        for product_id, fresh in stock.items()
    }
    return {product_id: markdown for product_id, markdown in found.items() if markdown}


def _unheld(lots: Sequence[Lot], held: int) -> list[Lot]:
    """What `lots` (first sold first) have left once `held` units are taken from the first."""
    by_id = {lot.id: lot for lot in lots}
    left = after_first([Take(lot.id, lot.remaining) for lot in lots], held)
    return [
        replace(by_id[part.batch_id], remaining=part.units)
        for part in left
        if part.batch_id is not None
    ]
