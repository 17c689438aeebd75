"""Keeping the rollups equal to a recomputation from the orders, one order event at a time.

Each `order_paid` or `order_refunded` event refreshes what its order touches, recomputed from
the source rather than added to: the order's purchase row, the sales of its store-day, and the
history of its buyer. A replayed or out-of-order event therefore leaves exactly what a full
`rebuild` would, which is what makes the handlers idempotent by the event's key.
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
from pos.analytics.sql import execute, serialize_writers
from pos.analytics.tables import Buyer, BuyerCounty, BuyerProduct, PayerLink, Purchase
from pos.db import write_transaction
from pos.events.outbox import Event, register
from pos.orders import service as orders
from pos.orders.tables import Order, OrderLine

__all__ = [
    "COUNTED_STATES",
    "SALES_CELLS",
    "buyer_key",
    "history_rows",
    "install",
    "on_order_event",
    "refresh_buyer",
    "refresh_order",
    "visit_of",
]

COUNTED_STATES = ("paid", "partially_refunded")

# A line's net is its total less floor(total * refunded / order total): see measures.net_of.
_LESS_REFUNDS = (
    "{v} - CASE WHEN p.total_fen > 0 "
    "THEN CAST({v} AS BIGINT) * p.refunded_fen / p.total_fen ELSE 0 END"
)
# `where` is filled with constant text only.
SALES_CELLS = (
    "INSERT INTO analytics_sales_day (store_id, day, product_id, supplier_id, county_code, "  # noqa: S608
    "province_code, net_fen, certified_fen, quantity, weight_g) "
    "SELECT p.store_id, p.day, l.product, l.supplier, l.origin_county_code, "
    "substr(l.origin_county_code, 1, 2), "
    f"SUM({_LESS_REFUNDS.format(v='l.total_fen')}), "
    f"SUM(CASE WHEN l.certified THEN {_LESS_REFUNDS.format(v='l.total_fen')} ELSE 0 END), "
    f"SUM({_LESS_REFUNDS.format(v='COALESCE(l.quantity, 0)')}), "
    f"SUM({_LESS_REFUNDS.format(v='COALESCE(l.weight_g, 0)')}) "
    'FROM analytics_purchase p JOIN order_line l ON l."order" = p.order_id '
    "WHERE {where} "
    "GROUP BY p.store_id, p.day, l.product, l.supplier, l.origin_county_code"
)
_P = Purchase


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
        await serialize_writers()
        old = await _P.select(_P.store_id, _P.day, _P.payer_hash).where(_P.order_id == order_id)
        new = await _purchase_of(order_id)
        await _P.delete().where(_P.order_id == order_id)
        if new is not None:
            await _P.insert(_P(**new))
        touched = [*old, *([new] if new is not None else [])]
        for store_id, day in sorted({(row["store_id"], row["day"]) for row in touched}):
            await _refresh_cell(store_id, day)
        for payer in sorted({row["payer_hash"] for row in touched if row["payer_hash"]}):
            await refresh_buyer(await buyer_key(payer))


async def _purchase_of(order_id: int) -> dict[str, Any] | None:
    order = await (
        Order.select(
            Order.id,
            Order.store.as_alias("store_id"),
            Order.store.time_zone.as_alias("time_zone"),
            Order.state,
            Order.payer_hash,
            Order.paid_at,
            Order.total_fen,
            Order.refunded_fen,
        )
        .where(Order.id == order_id)
        .first()
    )
    if order is None or order["state"] not in COUNTED_STATES or order["paid_at"] is None:
        return None
    lines = await OrderLine.select(
        OrderLine.product, OrderLine.origin_county_code, OrderLine.certified, OrderLine.total_fen
    ).where(OrderLine.order == order_id)
    facts = OrderFacts(
        order_id,
        order["store_id"],
        order["payer_hash"],
        order["paid_at"],
        order["total_fen"],
        order["refunded_fen"],
    )
    sold = [
        SoldLine(r["product"], r["origin_county_code"], r["certified"], r["total_fen"])
        for r in lines
    ]
    return purchase_row(facts, sold, order["time_zone"])


async def _refresh_cell(store_id: int, day: date) -> None:
    await execute("DELETE FROM analytics_sales_day WHERE store_id = {} AND day = {}", store_id, day)
    await execute(SALES_CELLS.format(where="p.store_id = {} AND p.day = {}"), store_id, day)


async def buyer_key(payer_hash: str) -> str:
    """The buyer a payer id hash belongs to: the member who linked it, else the payer alone."""
    link = await PayerLink.select(PayerLink.member).where(PayerLink.payer_hash == payer_hash)
    return f"member:{link[0]['member']}" if link else f"payer:{payer_hash}"


async def _payers_of(key: str) -> list[str]:
    kind, _, value = key.partition(":")
    if kind == "member":
        links = await PayerLink.select(PayerLink.payer_hash).where(PayerLink.member == int(value))
        return [row["payer_hash"] for row in links]
    linked = await PayerLink.exists().where(PayerLink.payer_hash == value)
    return [] if linked else [value]


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


_VISIT_COLUMNS = (
    _P.order_id,
    _P.store_id,
    _P.paid_at,
    _P.day,
    _P.week,
    _P.month,
    _P.net_fen,
    _P.products,
    _P.counties,
)


async def refresh_buyer(key: str) -> None:
    """Recompute one buyer's row, ranks and product and county histories (in a transaction)."""
    found = await Buyer.select(Buyer.id).where(Buyer.key == key).first()
    if found is not None:
        await BuyerProduct.delete().where(BuyerProduct.buyer_id == found["id"])
        await BuyerCounty.delete().where(BuyerCounty.buyer_id == found["id"])
    payers = await _payers_of(key)
    rows = await _P.select(*_VISIT_COLUMNS).where(_P.payer_hash.is_in(payers)) if payers else []
    if not rows:
        if found is not None:
            await Buyer.delete().where(Buyer.id == found["id"])
        return
    history = buyer_history(visit_of(row) for row in rows)
    buyer, products, counties = history_rows(key, history)
    if found is None:
        buyer_id = int((await Buyer.insert(Buyer(**buyer)).returning(Buyer.id))[0]["id"])
    else:
        buyer_id = found["id"]
        await Buyer.update({getattr(Buyer, k): v for k, v in buyer.items()}).where(
            Buyer.id == buyer_id
        )
    await _write_ranks(buyer_id, history)
    if products:
        await BuyerProduct.insert(*[BuyerProduct(buyer_id=buyer_id, **row) for row in products])
    if counties:
        await BuyerCounty.insert(*[BuyerCounty(buyer_id=buyer_id, **row) for row in counties])


async def _write_ranks(buyer_id: int, history: BuyerHistory) -> None:
    first = history.first
    await _P.update(
        {
            _P.buyer_id: buyer_id,
            _P.first_store_id: first.store_id,
            _P.first_day: first.days.day,
            _P.first_week: first.days.week,
            _P.first_month: first.days.month,
        }
    ).where(_P.order_id.is_in(list(history.ranks)))
    for order_id, rank in history.ranks.items():
        await _P.update({_P.rank: rank}).where(_P.order_id == order_id)


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
