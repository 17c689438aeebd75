"""One statement for many products' level rows: an order's hold, its release and its sale, and
reading them with what new orders can take (the hold's rule: expired batches are not).

Each change is a conditional UPDATE over all the order's products at once, so no unit is taken twice
(STACK.md pitfall 3), and a product whose condition fails is simply missing from the answer.
On PostgreSQL the statement first locks the rows in product order (a `FOR UPDATE` subquery),
the order every other stock change keeps, so concurrent orders never deadlock; on SQLite the
write transaction already holds the whole database. Both join the caller's write transaction.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from piccolo.engine.sqlite import SQLiteEngine
from piccolo.querystring import QueryString

from pos.db import Statement, current_engine, placeholders

__all__ = ["Level", "Stock", "UnitsInOrder", "hold", "stock", "store_stock", "unhold", "units_by"]

Level = tuple[int, datetime | None]
"""A level row after a change: units on hand, and when it was last counted."""

UnitsInOrder = Sequence[tuple[int, int]]
"""(product id, units), in product id order."""

# Units of expired batches stay on hand but may not be held.
_EXPIRED_LEFT = (
    "COALESCE((SELECT SUM(b.remaining) FROM stock_batch b"
    " WHERE b.store = stock_level.store AND b.product = stock_level.product"
    " AND b.remaining > 0 AND b.expires_at <= {}), 0)"
)


class Stock(NamedTuple):
    """A level row's units: on the shelf, held by unpaid orders, left in expired batches."""

    on_hand: int = 0
    held: int = 0
    expired: int = 0

    @property
    def available(self) -> int:
        """What a new order can take, as a hold counts it."""
        return max(self.on_hand - self.held - self.expired, 0)


async def stock(store_id: int, product_ids: Sequence[int], now: datetime) -> dict[int, Stock]:
    """The products' level rows as of `now`, by product; a product without one is missing."""
    if not product_ids:
        return {}
    rows = await _stock(len(product_ids)).rows(now, store_id, *product_ids)
    return {row["product"]: Stock(row["on_hand"], row["held"], row["expired"]) for row in rows}


_STORE_STOCK = Statement(
    f"SELECT product, on_hand, held, {_EXPIRED_LEFT} AS expired FROM stock_level"  # noqa: S608
    " WHERE store = {} ORDER BY product"
)


async def store_stock(store_id: int, now: datetime) -> dict[int, Stock]:
    """Every level row of the store as of `now`, by product id in order."""
    rows = await _STORE_STOCK.rows(now, store_id)
    return {row["product"]: Stock(row["on_hand"], row["held"], row["expired"]) for row in rows}


async def hold(store_id: int, units: UnitsInOrder, now: datetime) -> set[int]:
    """Hold `units` where that much unspoiled stock is free; the product ids held."""
    n = _pairs(units)
    rows = await _hold(len(units), _locks()).rows(*n, now, *_rows_args(store_id, units), now, *n)
    return {row["product"] for row in rows}


async def unhold(
    store_id: int, units: UnitsInOrder, *, sold: bool, now: datetime
) -> dict[int, Level]:
    """Release held `units`, and take them off the shelf when `sold`; by product, where held."""
    n = _pairs(units)
    shelf = [*n] if sold else []
    statement = _unhold(len(units), _locks(), sold)
    rows = await statement.rows(*n, *shelf, now, *_rows_args(store_id, units), *n)
    return {row["product"]: (row["on_hand"], row["counted_at"]) for row in rows}


def units_by(key: str, units: Sequence[tuple[int, int]]) -> QueryString:
    """A CASE giving each row the units paired with its `key` column's value."""
    return QueryString(_case(key, len(units)), *_pairs(units))


def _case(key: str, count: int) -> str:
    return f"CASE {key} " + " ".join(["WHEN {} THEN CAST({} AS INTEGER)"] * count) + " END"


def _pairs(units: Sequence[tuple[int, int]]) -> list[int]:
    return [value for pair in units for value in pair]


def _locks() -> bool:
    return not isinstance(current_engine(), SQLiteEngine)


def _rows(count: int, locks: bool) -> str:
    """The store's level rows of the products, locked in product order on PostgreSQL."""
    of_products = f"store = {{}} AND product IN ({placeholders(count)})"
    if not locks:
        return of_products
    locked = f"SELECT id FROM stock_level WHERE {of_products} ORDER BY product FOR UPDATE"  # noqa: S608
    return f"{of_products} AND id IN ({locked})"


def _rows_args(store_id: int, units: UnitsInOrder) -> list[int]:
    of_products = [store_id, *(product_id for product_id, _ in units)]
    return of_products * 2 if _locks() else of_products


@functools.cache
def _hold(count: int, locks: bool) -> Statement:
    n = _case("product", count)
    return Statement(
        f"UPDATE stock_level SET held = held + {n}, updated_at = {{}}"  # noqa: S608
        f" WHERE {_rows(count, locks)} AND on_hand - held - {_EXPIRED_LEFT} >= {n}"
        " RETURNING product"
    )


# Bounded, unlike the order statements: a low-stock list reads one product per threshold.
@functools.lru_cache(maxsize=64)
def _stock(count: int) -> Statement:
    return Statement(
        f"SELECT product, on_hand, held, {_EXPIRED_LEFT} AS expired FROM stock_level"  # noqa: S608
        f" WHERE {_rows(count, locks=False)}"
    )


@functools.cache
def _unhold(count: int, locks: bool, sold: bool) -> Statement:
    n = _case("product", count)
    shelf = f", on_hand = on_hand - {n}" if sold else ""
    return Statement(
        f"UPDATE stock_level SET held = held - {n}{shelf}, updated_at = {{}}"  # noqa: S608
        f" WHERE {_rows(count, locks)} AND held >= {n} RETURNING product, on_hand, counted_at"
    )
