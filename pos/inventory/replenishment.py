"""Replenishment: thresholds, low-stock alerts with suggested quantities, restock orders.

A suggestion covers the gap to the target level, or the sales expected until the next delivery
if those are more, less what is on order already, and never more than the supplier last said
it has.

A restock order is placed; a shipment notice against it ships it; receivings of its notices
make it partially_received or received. A manager may cancel it while it is placed, or close
it short once shipped when the rest will not come: the rest is no longer on order, and goods
that come after all are still received. Each step is a conditional UPDATE, or runs with the
order's row locked, so racing steps never lose one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from piccolo.query.functions.aggregate import Sum

from pos.catalog import service as catalog
from pos.db import MAX_INTEGER, Statement, write_transaction
from pos.db.unique import DUPLICATE_KEY
from pos.errors import Conflict, NotFound
from pos.inventory import levels
from pos.inventory.schemas import (
    LowStockOut,
    RestockLineIn,
    RestockLineOut,
    RestockOrderIn,
    RestockOrderOut,
    RestockStatus,
    ThresholdIn,
    ThresholdOut,
)
from pos.inventory.tables import (
    ReorderRule,
    RestockOrder,
    RestockOrderLine,
    StockMovement,
    SupplierStock,
)

__all__ = [
    "COVER_DAYS",
    "LOOK_BACK_DAYS",
    "cancel_order",
    "close_order",
    "low_stock",
    "place_orders",
    "receipt_status",
    "record_received",
    "restock_orders",
    "set_threshold",
    "ship_order",
    "suggest",
]

LOOK_BACK_DAYS = 7
COVER_DAYS = 3

_R = ReorderRule
_O = RestockOrder
_OL = RestockOrderLine
_ON_ORDER = ("placed", "shipped", "partially_received")
_CLOSABLE = ["shipped", "partially_received"]


def suggest(
    available: int, target_level: int, sold: int, on_order: int, supplier_available: int | None
) -> int:
    """Units to order: to the target, or for the expected sales until the next delivery."""
    expected_sales = -(-sold * COVER_DAYS // LOOK_BACK_DAYS)  # rounded up
    wanted = max(target_level - available, expected_sales - available, 0)
    wanted = max(wanted - on_order, 0)
    return wanted if supplier_available is None else min(wanted, supplier_available)


def receipt_status(lines: Sequence[tuple[int, int]]) -> RestockStatus:
    """A shipped order's status from its lines' (ordered, received) units."""
    if all(received >= ordered for ordered, received in lines):
        return "received"
    if any(received > 0 for _, received in lines):
        return "partially_received"
    return "shipped"


async def set_threshold(store_id: int, product_id: int, data: ThresholdIn) -> ThresholdOut:
    """Set (or replace) the product's thresholds at the store."""
    await catalog.get_product(product_id)
    row = _R(
        store=store_id, product=product_id, min_level=data.min_level, target_level=data.target_level
    )
    await _R.insert(row).on_conflict(
        target=(_R.store, _R.product), action="DO UPDATE", values=[_R.min_level, _R.target_level]
    )
    return ThresholdOut(store_id=store_id, product_id=product_id, **data.model_dump())


async def low_stock(store_id: int) -> list[LowStockOut]:
    """Products below their minimum, each with a suggested restock quantity."""
    rules = await _R.select(
        _R.product,
        _R.min_level,
        _R.target_level,
        _R.product._.name_zh.as_alias("name"),
        _R.product._.supplier.as_alias("supplier"),
    ).where(_R.store == store_id)
    stock = await levels.stock(store_id, [rule["product"] for rule in rules], datetime.now(UTC))
    low = [r for r in rules if _stock_of(stock, r).available < r["min_level"]]
    if not low:
        return []
    products = [rule["product"] for rule in low]
    sold = await _sold(store_id, products)
    on_order = await _on_order(store_id, products)
    offered = await _offered([(rule["supplier"], rule["product"]) for rule in low])
    return [
        _alert(rule, _stock_of(stock, rule), sold, on_order, offered)
        for rule in sorted(low, key=lambda r: r["product"])
    ]


def _stock_of(stock: dict[int, levels.Stock], rule: dict[str, Any]) -> levels.Stock:
    return stock.get(rule["product"], levels.Stock())


def _alert(
    rule: dict[str, Any],
    stock: levels.Stock,
    sold: dict[int, int],
    on_order: dict[int, int],
    offered: dict[int, int],
) -> LowStockOut:
    product_id = rule["product"]
    available = stock.available
    ordered = on_order.get(product_id, 0)
    return LowStockOut(
        product_id=product_id,
        product_name=rule["name"],
        supplier_id=rule["supplier"],
        on_hand=stock.on_hand,
        available=available,
        min_level=rule["min_level"],
        target_level=rule["target_level"],
        sold_last_days=sold.get(product_id, 0),
        supplier_available=offered.get(product_id),
        on_order=ordered,
        suggested=suggest(
            available,
            rule["target_level"],
            sold.get(product_id, 0),
            ordered,
            offered.get(product_id),
        ),
    )


async def _sold(store_id: int, product_ids: list[int]) -> dict[int, int]:
    since = datetime.now(UTC) - timedelta(days=LOOK_BACK_DAYS)
    m = StockMovement
    rows = (
        await m.select(m.product, Sum(m.delta))
        .where(
            (m.store == store_id)
            & m.product.is_in(product_ids)
            & (m.kind == "sale")
            & (m.occurred_at >= since)
        )
        .group_by(m.product)
    )
    return {row["product"]: -int(row["sum"] or 0) for row in rows}


async def _on_order(store_id: int, product_ids: list[int]) -> dict[int, int]:
    """Units ordered from suppliers and not received yet, per product."""
    rows = await _OL.select(_OL.product, _OL.quantity, _OL.received).where(
        (_OL.order._.store == store_id)
        & _OL.order._.status.is_in(list(_ON_ORDER))
        & _OL.product.is_in(product_ids)
    )
    on_order: dict[int, int] = defaultdict(int)
    for row in rows:
        on_order[row["product"]] += max(row["quantity"] - row["received"], 0)
    return on_order


async def _offered(pairs: list[tuple[int, int]]) -> dict[int, int]:
    s = SupplierStock
    rows = await s.select(s.supplier, s.product, s.available).where(
        s.product.is_in([product for _, product in pairs])
    )
    wanted = set(pairs)
    return {r["product"]: r["available"] for r in rows if (r["supplier"], r["product"]) in wanted}


async def place_orders(
    store_id: int, data: RestockOrderIn, *, actor: str, idempotency_key: str | None
) -> list[RestockOrderOut]:
    """Order the lines from their suppliers: one restock order per supplier."""
    by_supplier: dict[int, list[RestockLineIn]] = defaultdict(list)
    for line in data.lines:
        by_supplier[(await catalog.get_product(line.product_id)).supplier_id].append(line)
    keys = {s: _key(store_id, idempotency_key, s) for s in by_supplier}
    if idempotency_key and (found := await _orders_with_keys(list(keys.values()))):
        return found
    try:
        async with write_transaction():
            order_ids = [
                await _insert_order(store_id, supplier_id, lines, actor, keys[supplier_id])
                for supplier_id, lines in sorted(by_supplier.items())
            ]
    except DUPLICATE_KEY:  # on SQLite also any other constraint: then no order has the keys
        if not idempotency_key or not (found := await _orders_with_keys(list(keys.values()))):
            raise
        return found
    return await _orders_out(order_ids)


async def _insert_order(
    store_id: int, supplier_id: int, lines: list[RestockLineIn], actor: str, key: str | None
) -> int:
    row = _O(store=store_id, supplier=supplier_id, created_by=actor, idempotency_key=key)
    order_id = int((await _O.insert(row).returning(_O.id))[0]["id"])
    await _OL.insert(
        *[_OL(order=order_id, product=ln.product_id, quantity=ln.quantity) for ln in lines]
    )
    return order_id


def _key(store_id: int, idempotency_key: str | None, supplier_id: int) -> str | None:
    return f"store:{store_id}:{idempotency_key}:{supplier_id}" if idempotency_key else None


async def _orders_with_keys(keys: list[str | None]) -> list[RestockOrderOut]:
    named = [key for key in keys if key is not None]
    rows = await _O.select(_O.id).where(_O.idempotency_key.is_in(named)) if named else []
    return await _orders_out(sorted(row["id"] for row in rows))


async def cancel_order(store_id: int, order_id: int, *, actor: str) -> RestockOrderOut:
    """Cancel a placed order; a repeat answers with it, a shipped one is refused (409)."""
    stamps = {_O.cancelled_by: actor, _O.cancelled_at: datetime.now(UTC)}
    return await _end(
        store_id,
        order_id,
        "cancelled",
        stamps,
        ending=["placed"],
        refusal=("only a placed order can be cancelled", "restock_order_not_cancellable"),
    )


async def close_order(store_id: int, order_id: int, *, actor: str) -> RestockOrderOut:
    """Close a shipped or partly received order short; a repeat answers with it, else 409."""
    stamps = {_O.closed_by: actor, _O.closed_at: datetime.now(UTC)}
    return await _end(
        store_id,
        order_id,
        "closed",
        stamps,
        ending=_CLOSABLE,
        refusal=(
            "only a shipped or partly received order can be closed (cancel a placed one)",
            "restock_order_not_closable",
        ),
    )


async def _end(
    store_id: int,
    order_id: int,
    status: str,
    stamps: dict[Any, Any],
    *,
    ending: list[str],
    refusal: tuple[str, str],
) -> RestockOrderOut:
    """Move the order from one of `ending` to `status`, setting `stamps`.

    An order already in `status` is a repeat and answers the same; NotFound or Conflict (the
    `refusal`'s reason and code) otherwise.
    """
    ended = (
        await _O.update({_O.status: status, **stamps})
        .where((_O.id == order_id) & (_O.store == store_id) & _O.status.is_in(ending))
        .returning(_O.id)
    )
    if not ended:
        row = await _O.select(_O.status).where((_O.id == order_id) & (_O.store == store_id)).first()
        if row is None:
            raise NotFound(f"no restock order {order_id} here", code="restock_order_not_found")
        if row["status"] != status:
            reason, code = refusal
            raise Conflict(f"restock order {order_id} is {row['status']}: {reason}", code=code)
    [order] = await _orders_out([order_id])
    return order


async def ship_order(order_id: int) -> None:
    """A shipment notice ships the order: placed -> shipped. A cancelled order is refused.

    Runs in the notice's transaction; a cancel at the same time either wins the row first (and
    the notice is refused) or waits and finds it shipped.
    """
    await _O.update({_O.status: "shipped"}).where((_O.id == order_id) & (_O.status == "placed"))
    if await _O.exists().where((_O.id == order_id) & (_O.status == "cancelled")):
        raise Conflict(
            f"restock order {order_id} was cancelled: it cannot be shipped",
            code="restock_order_cancelled",
        )


# Received units only ever add up; past an INTEGER the count stops there rather than refusing
# goods that arrived (such a line is received in full long before).
_ADD_RECEIVED = Statement(
    "UPDATE restock_order_line SET received ="
    " CASE WHEN received > {} THEN {} ELSE received + {} END"
    ' WHERE "order" = {} AND product = {}'
)


async def record_received(order_id: int, units: Mapping[int, int]) -> None:
    """Add a confirmed receiving's units to the order's lines and set its status from them
    (a closed order stays closed).

    Runs in the receiving's transaction. The order's row is locked first, so two receivings
    of it at once add up one after the other and the second sees everything the first added.
    """
    await _O.update({_O.status: _O.status}).where(_O.id == order_id)
    for product_id, quantity in sorted(units.items()):
        await _ADD_RECEIVED.rows(
            MAX_INTEGER - quantity, MAX_INTEGER, quantity, order_id, product_id
        )
    lines = await _OL.select(_OL.quantity, _OL.received).where(_OL.order == order_id)
    status = receipt_status([(line["quantity"], line["received"]) for line in lines])
    await _O.update({_O.status: status}).where((_O.id == order_id) & (_O.status != "closed"))


async def restock_orders(
    *,
    store_id: int | None = None,
    supplier_id: int | None = None,
    statuses: Collection[RestockStatus] | None = None,
) -> list[RestockOrderOut]:
    """Orders of a store or to a supplier, only those in `statuses` if given; newest 200 first."""
    where: Any = (_O.store == store_id) if store_id is not None else (_O.supplier == supplier_id)
    if statuses is not None:
        where &= _O.status.is_in(list(statuses))
    rows = await _O.select(_O.id).where(where).order_by(_O.id, ascending=False).limit(200)
    return await _orders_out([row["id"] for row in rows])


async def _orders_out(order_ids: list[int]) -> list[RestockOrderOut]:
    if not order_ids:
        return []
    orders = await _O.select().where(_O.id.is_in(order_ids))
    lines = await _OL.select().where(_OL.order.is_in(order_ids))
    by_order: dict[int, list[RestockLineOut]] = defaultdict(list)
    for line in sorted(lines, key=lambda row: row["id"]):
        by_order[line["order"]].append(
            RestockLineOut(
                product_id=line["product"], quantity=line["quantity"], received=line["received"]
            )
        )
    found = {row["id"]: row for row in orders}
    return [
        RestockOrderOut(
            id=oid,
            store_id=found[oid]["store"],
            supplier_id=found[oid]["supplier"],
            status=found[oid]["status"],
            created_by=found[oid]["created_by"],
            created_at=found[oid]["created_at"],
            cancelled_by=found[oid]["cancelled_by"],
            cancelled_at=found[oid]["cancelled_at"],
            closed_by=found[oid]["closed_by"],
            closed_at=found[oid]["closed_at"],
            lines=by_order[oid],
        )
        for oid in order_ids
    ]
