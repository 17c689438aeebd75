"""Keeping the rollups equal to a recomputation from the orders, one order event at a time.

Each `order_paid` or `order_refunded` event refreshes what its order touches from the source:
the order's purchase row and the history of its buyer are recomputed; an order newly counted
adds its lines to its store-day's sales; the cells of one whose amounts changed since its
purchase row was recorded (a refund) are recounted, and the whole store-day when the order left
the sales. A line counts what is left of it after the refunds recorded on it: each refund's fen
and returned units are kept on the lines they paid back (`pos.orders.refund_shares`), so a
refund of one line leaves the others, certified or not, as they were. A replayed or
out-of-order event therefore leaves exactly what a full `rebuild` would, which makes the
handlers idempotent by the key.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pos.analytics.measures import (
    BuyerHistory,
    LocalDays,
    OrderFacts,
    SoldLine,
    Visit,
    buyer_history,
    purchase_row,
)
from pos.analytics.sql import execute, lock_rows_of
from pos.db import Statement, insert_rows, placeholders, write_transaction
from pos.events.outbox import Event, register
from pos.orders import service as orders

__all__ = [
    "BUYER_COLUMNS",
    "COUNTED_STATES",
    "SALES_CELLS",
    "history_rows",
    "install",
    "on_order_event",
    "refresh_buyer",
    "refresh_order",
    "visit_of",
]

COUNTED_STATES = ("paid", "partially_refunded")

# What is left of a line after the refunds recorded on it (`pos.orders.refund_shares`): net fen,
# certified fen, and pieces or grams not paid back.
_LINE_LEFT = {
    "net_fen": "l.total_fen - l.refunded_fen",
    "certified_fen": "CASE WHEN l.certified THEN l.total_fen - l.refunded_fen ELSE 0 END",
    "quantity": "CASE WHEN l.quantity IS NULL THEN 0 ELSE l.quantity - l.returned_units END",
    "weight_g": "CASE WHEN l.weight_g IS NULL THEN 0 ELSE l.weight_g - l.returned_units END",
}
_SUMS = ", ".join(f"SUM({left}) AS {name}" for name, left in _LINE_LEFT.items())
# `where` is filled with constant text only.
SALES_CELLS = (
    "INSERT INTO analytics_sales_day (store_id, day, product_id, supplier_id, county_code, "  # noqa: S608
    "province_code, net_fen, certified_fen, quantity, weight_g) "
    "SELECT p.store_id, p.day, l.product, l.supplier, l.origin_county_code, "
    f"substr(l.origin_county_code, 1, 2), {_SUMS} "
    'FROM analytics_purchase p JOIN order_line l ON l."order" = p.order_id '
    "WHERE {where} "
    "GROUP BY p.store_id, p.day, l.product, l.supplier, l.origin_county_code"
)
_ORDER_CELLS = (
    "SELECT l.product AS product_id, l.supplier AS supplier_id,"  # noqa: S608 (constant text)
    f" l.origin_county_code AS county_code, {_SUMS}"
    ' FROM order_line l WHERE l."order" = {} GROUP BY l.product, l.supplier, l.origin_county_code'
)
# An order newly counted adds its lines to its store-day's cells, or makes them (`WHERE true`:
# without it SQLite would read ON CONFLICT as part of the join). Every key column is NOT NULL,
# and the unique index on them holds on SQLite as on PostgreSQL.
_ADD_CELLS = Statement(
    "INSERT INTO analytics_sales_day (store_id, day, product_id, supplier_id, county_code, "  # noqa: S608 (constant text, like every part below)
    "province_code, net_fen, certified_fen, quantity, weight_g) "
    "SELECT a.store_id, a.day, c.product_id, c.supplier_id, c.county_code, "
    "substr(c.county_code, 1, 2), c.net_fen, c.certified_fen, c.quantity, c.weight_g "
    f"FROM ({_ORDER_CELLS}) c JOIN analytics_purchase a ON a.order_id = {{}} WHERE true "
    "ON CONFLICT (store_id, day, product_id, supplier_id, county_code) DO UPDATE SET "
    + ", ".join(
        f"{column} = analytics_sales_day.{column} + excluded.{column}"
        for column in ("net_fen", "certified_fen", "quantity", "weight_g")
    )
)
# What a refresh of one order rewrites: its store-day's cells (as sold, and as last recorded)
# and its buyer. The order's store, business day and payer never change once it is paid.
_ROWS_OF_ORDER = (
    "SELECT 'day:' || store || ':' || business_day AS key"
    " FROM orders WHERE id = {} AND business_day IS NOT NULL"
    " UNION ALL SELECT 'day:' || store_id || ':' || day FROM analytics_purchase"
    " WHERE order_id = {}"
    " UNION ALL SELECT COALESCE('member:' || l.member, 'payer:' || o.payer_hash) FROM orders o"
    " LEFT JOIN analytics_payer_link l ON l.payer_hash = o.payer_hash"
    " WHERE o.id = {} AND o.payer_hash IS NOT NULL"
)


def install() -> None:
    """Register the rollup handlers (installing them again changes nothing)."""
    register(orders.ORDER_PAID, on_order_event)
    register(orders.ORDER_REFUNDED, on_order_event)


async def on_order_event(event: Event) -> None:
    """Outbox handler for `order_paid` and `order_refunded`: refresh what the order touches."""
    await refresh_order(int(event.payload["order_id"]))


async def refresh_order(order_id: int) -> None:
    """Recompute the order's purchase, its store-day's sales and its buyer's history."""
    async with write_transaction():
        await lock_rows_of(_ROWS_OF_ORDER, order_id, order_id, order_id)
        old = await _FORGET_PURCHASE.rows(order_id)
        new = await _purchase_of(order_id)
        if new is not None:
            await insert_rows("analytics_purchase", [new])  # no buyer yet: `_write_ranks` sets it
        await _refresh_cells(order_id, old[0] if old else None, new)
        touched = [*old, *([new] if new is not None else [])]
        for payer in sorted({row["payer_hash"] for row in touched if row["payer_hash"]}):
            await _refresh_buyer_of(payer)


_FORGET_PURCHASE = Statement(
    "DELETE FROM analytics_purchase WHERE order_id = {}"
    " RETURNING store_id, day, payer_hash, total_fen, refunded_fen"
)
# The order and its lines in one statement (a row per line; one with NULL line columns if it
# had none).
_ORDER_LINES = Statement(
    "SELECT o.store AS store_id, o.state, o.payer_hash, o.paid_at, o.business_day, o.total_fen,"
    " o.refunded_fen, l.product, l.origin_county_code, l.certified, l.total_fen AS line_fen,"
    " l.refunded_fen AS refunded"
    ' FROM orders o LEFT JOIN order_line l ON l."order" = o.id WHERE o.id = {}'
)


async def _purchase_of(order_id: int) -> dict[str, Any] | None:
    rows = await _ORDER_LINES.rows(order_id)
    order = rows[0] if rows else None
    if order is None or order["state"] not in COUNTED_STATES or order["paid_at"] is None:
        return None
    facts = OrderFacts(
        order_id,
        order["store_id"],
        order["payer_hash"],
        order["paid_at"],
        order["total_fen"],
        order["refunded_fen"],
        order["business_day"],
    )
    sold = [
        SoldLine(
            r["product"],
            r["origin_county_code"],
            bool(r["certified"]),
            r["line_fen"],
            r["refunded"],
        )
        for r in rows
        if r["product"] is not None
    ]
    return purchase_row(facts, sold)


async def _refresh_cells(
    order_id: int, old: dict[str, Any] | None, new: dict[str, Any] | None
) -> None:
    """Add a newly counted order's lines to its store-day's cells; recount its cells when its
    amounts changed, and a whole cell an order left."""
    if old is not None and (new is None or _cell_of(old) != _cell_of(new)):
        await _recount_cell(*_cell_of(old))  # its groups may have no sale left
        old = None
    if new is None or (old is not None and _amounts_of(old) == _amounts_of(new)):
        return
    if old is not None:
        await _recount_cells_of(order_id, *_cell_of(new))
        return
    await _ADD_CELLS.rows(order_id, order_id)


def _cell_of(purchase: dict[str, Any]) -> tuple[int, date]:
    return purchase["store_id"], purchase["day"]


def _amounts_of(purchase: dict[str, Any]) -> tuple[int, int]:
    return purchase["total_fen"], purchase["refunded_fen"]


async def _recount_cell(store_id: int, day: date) -> None:
    await execute("DELETE FROM analytics_sales_day WHERE store_id = {} AND day = {}", store_id, day)
    await execute(SALES_CELLS.format(where="p.store_id = {} AND p.day = {}"), store_id, day)


# The groups of an order's lines: the cells of its store-day it counts in.
_GROUPS_OF_ORDER = 'SELECT product, supplier, origin_county_code FROM order_line WHERE "order" = {}'


async def _recount_cells_of(order_id: int, store_id: int, day: date) -> None:
    """Recount the order's cells of its store-day from every purchase of that day.

    Not the order's change alone: what its lines counted before, refunds as recorded then, is
    not kept.
    """
    await execute(
        "DELETE FROM analytics_sales_day WHERE store_id = {} AND day = {}"  # noqa: S608 (constant text)
        f" AND (product_id, supplier_id, county_code) IN ({_GROUPS_OF_ORDER})",
        store_id,
        day,
        order_id,
    )
    where = "p.store_id = {} AND p.day = {} AND (l.product, l.supplier, l.origin_county_code)"
    await execute(
        SALES_CELLS.format(where=f"{where} IN ({_GROUPS_OF_ORDER})"), store_id, day, order_id
    )


# The buyer a payer counts for, and its row if it has one: the member who linked the payer
# (`member` set), else the payer alone. One row, also for a payer seen for the first time.
_BUYER_OF_PAYER = Statement(
    "SELECT m.member, b.id AS buyer_id FROM"
    " (SELECT (SELECT member FROM analytics_payer_link WHERE payer_hash = {}) AS member) m"
    " LEFT JOIN analytics_buyer b ON b.key = COALESCE('member:' || m.member, 'payer:' || {})"
)


async def _refresh_buyer_of(payer_hash: str) -> None:
    """Refresh the buyer of a payer: the member who linked it, else the payer alone."""
    found = await _BUYER_OF_PAYER.rows(payer_hash, payer_hash)
    member, buyer_id = found[0]["member"], found[0]["buyer_id"]
    key = f"payer:{payer_hash}" if member is None else f"member:{member}"
    await _refresh_buyer(key, buyer_id)


def visit_of(row: dict[str, Any]) -> Visit:
    """A purchase row as a buyer's history sees it."""
    return Visit(
        order_id=row["order_id"],
        store_id=row["store_id"],
        paid_at=row["paid_at"],
        days=LocalDays(row["day"], row["week"], row["month"]),
        net_fen=row["net_fen"],
        products=tuple(int(p) for p in row["products"].split(",") if p),
        counties=tuple(c for c in row["counties"].split(",") if c),
    )


# What a buyer's history is made of, and the columns `_write_ranks` may have to change.
_HISTORY_COLUMNS = (
    "order_id",
    "rank",
    "buyer_id",
    "first_store_id",
    "first_day",
    "first_week",
    "first_month",
    "store_id",
    "paid_at",
    "day",
    "week",
    "month",
    "net_fen",
    "products",
    "counties",
)


async def refresh_buyer(key: str) -> None:
    """Recompute one buyer's row, ranks and product and county histories (in a transaction)."""
    found = await _BUYER_ID.first(key)
    await _refresh_buyer(key, found["id"] if found is not None else None)


# Hand-written: a buyer is refreshed with every sale, and Piccolo's query building cost more.
_BUYER_ID = Statement("SELECT id FROM analytics_buyer WHERE key = {}")
_FORGET_PRODUCTS = Statement("DELETE FROM analytics_buyer_product WHERE buyer_id = {}")
_FORGET_COUNTIES = Statement("DELETE FROM analytics_buyer_county WHERE buyer_id = {}")
_FORGET_BUYER = Statement("DELETE FROM analytics_buyer WHERE id = {}")
BUYER_COLUMNS = (
    "key",
    "first_store_id",
    "first_at",
    "first_day",
    "first_week",
    "first_month",
    "second_days",
    "purchases",
    "net_fen",
)
_SAVE_BUYER = Statement(
    f"INSERT INTO analytics_buyer ({', '.join(BUYER_COLUMNS)})"  # noqa: S608 (names, not input)
    f" VALUES ({placeholders(len(BUYER_COLUMNS))}) ON CONFLICT (key) DO UPDATE SET "
    + ", ".join(f"{column} = excluded.{column}" for column in BUYER_COLUMNS[1:])
    + " RETURNING id"
)


async def _refresh_buyer(key: str, found: int | None) -> None:
    """Rewrite the buyer `key`, whose row has the id `found` (None: it has none yet)."""
    if found is not None:
        await _FORGET_PRODUCTS.rows(found)
        await _FORGET_COUNTIES.rows(found)
    rows = await _history_of(key)
    if not rows:
        if found is not None:
            await _FORGET_BUYER.rows(found)
        return
    history = buyer_history(visit_of(row) for row in rows)
    buyer, products, counties = history_rows(key, history)
    saved = await _SAVE_BUYER.rows(*[buyer[column] for column in BUYER_COLUMNS])
    buyer_id = int(saved[0]["id"])
    await _write_ranks(rows, buyer_id, history)
    await insert_rows("analytics_buyer_product", [{"buyer_id": buyer_id, **p} for p in products])
    await insert_rows("analytics_buyer_county", [{"buyer_id": buyer_id, **c} for c in counties])


_HISTORY = f"SELECT {', '.join(_HISTORY_COLUMNS)} FROM analytics_purchase"  # noqa: S608 (names)
# A member's purchases are those of every payer they linked; a payer's, none once it is linked.
_MEMBER_HISTORY = Statement(
    f"{_HISTORY} WHERE payer_hash IN"  # noqa: S608 (constant text)
    " (SELECT payer_hash FROM analytics_payer_link WHERE member = {})"
)
_PAYER_HISTORY = Statement(
    f"{_HISTORY} WHERE payer_hash = {{}}"  # noqa: S608 (constant text)
    " AND NOT EXISTS (SELECT 1 FROM analytics_payer_link WHERE payer_hash = {})"
)


async def _history_of(key: str) -> list[dict[str, Any]]:
    """The purchases of the buyer `key`."""
    kind, _, value = key.partition(":")
    if kind == "member":
        return await _MEMBER_HISTORY.rows(int(value))
    return await _PAYER_HISTORY.rows(value, value)


async def _write_ranks(rows: list[dict[str, Any]], buyer_id: int, history: BuyerHistory) -> None:
    """In one statement, give the buyer's purchases whose rank or first purchase moved theirs."""
    first = history.first
    fixed = {
        "buyer_id": buyer_id,
        "first_store_id": first.store_id,
        "first_day": first.days.day,
        "first_week": first.days.week,
        "first_month": first.days.month,
    }
    moved = {
        row["order_id"]: history.ranks[row["order_id"]]
        for row in rows
        if row["rank"] != history.ranks[row["order_id"]]
        or any(row[column] != value for column, value in fixed.items())
    }
    if not moved:
        return
    sets = ", ".join(f"{column} = {{}}" for column in fixed)
    cases = " ".join("WHEN {} THEN CAST({} AS INTEGER)" for _ in moved)
    await execute(
        f"UPDATE analytics_purchase SET {sets}, rank = CASE order_id {cases} END"  # noqa: S608 (placeholders only)
        f" WHERE order_id IN ({placeholders(len(moved))})",
        *fixed.values(),
        *[value for pair in moved.items() for value in pair],
        *moved,
    )


def history_rows(
    key: str, history: BuyerHistory
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """The buyer row and its product and county rows, without the buyer id."""
    first = history.first
    buyer = {
        "key": key,
        "first_store_id": first.store_id,
        "first_at": first.paid_at,
        "first_day": first.days.day,
        "first_week": first.days.week,
        "first_month": first.days.month,
        "second_days": history.second_days,
        "purchases": history.purchases,
        "net_fen": history.net_fen,
    }
    products = [
        {"product_id": p, "first_store_id": f.store_id, "first_day": f.days.day, "orders": n}
        for p, (f, n) in sorted(history.products.items())
    ]
    counties = [
        {"county_code": c, "first_store_id": f.store_id, "first_day": f.days.day, "orders": n}
        for c, (f, n) in sorted(history.counties.items())
    ]
    return buyer, products, counties
