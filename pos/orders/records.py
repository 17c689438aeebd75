"""Order rows: writing a new order with its lines, locking one, recording transitions, reading."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from piccolo.engine.sqlite import SQLiteEngine

from pos.db import current_engine
from pos.errors import NotFound
from pos.orders.pricing import PricedLine, PricedOrder
from pos.orders.schemas import OrderLineOut, OrderOut
from pos.orders.states import OrderState
from pos.orders.tables import Order, OrderLine, OrderTransition

__all__ = [
    "NewOrder",
    "Seller",
    "SupplierOf",
    "insert_order",
    "locked_order",
    "order_lines",
    "order_out",
    "order_row",
    "record_transition",
    "sold_units",
]

SupplierOf = dict[int, tuple[int, str]]
"""Product id -> (supplier id, supplier name)."""

_ORDER_COLUMNS = (
    Order.id,
    Order.number,
    Order.store.as_alias("store_id"),
    Order.counter.as_alias("counter_id"),
    Order.device.as_alias("device_id"),
    Order.state,
    Order.subtotal_fen,
    Order.discount_fen,
    Order.total_fen,
    Order.refunded_fen,
    Order.created_at,
    Order.expires_at,
    Order.paid_at,
    Order.payment_method,
    Order.payment_reference,
    Order.payer_hash,
    Order.access_token_hash,
    Order.request_hash,
)


@dataclass(frozen=True, slots=True)
class Seller:
    """Who sells: a counter (a shopper's phone at its QR code) or a kiosk device."""

    store_id: int
    counter_id: int | None = None
    device_id: int | None = None

    @property
    def name(self) -> str:
        """How transitions and idempotency keys name the seller: device:7 or counter:3."""
        return f"device:{self.device_id}" if self.device_id else f"counter:{self.counter_id}"


@dataclass(frozen=True, slots=True)
class NewOrder:
    """Everything a new order row is made of."""

    seller: Seller
    priced: PricedOrder
    suppliers: SupplierOf
    scope_key: str
    request_hash: str
    token_hash: str
    created_at: datetime
    expires_at: datetime
    time_zone: str


async def insert_order(new: NewOrder) -> int:
    """Insert the order and its lines (in the caller's transaction); returns the order id."""
    seller, priced = new.seller, new.priced
    order = Order(
        store=seller.store_id,
        counter=seller.counter_id,
        device=seller.device_id,
        state=OrderState.OPEN,
        subtotal_fen=priced.subtotal_fen,
        discount_fen=priced.discount_fen,
        total_fen=priced.total_fen,
        access_token_hash=new.token_hash,
        idempotency_scope_key=new.scope_key,
        request_hash=new.request_hash,
        created_at=new.created_at,
        expires_at=new.expires_at,
    )
    order_id: int = (await Order.insert(order).returning(Order.id))[0]["id"]
    local_day = new.created_at.astimezone(ZoneInfo(new.time_zone))
    number = f"{local_day:%y%m%d}{order_id:06d}"
    await Order.update({Order.number: number}).where(Order.id == order_id)
    lines = [_line(order_id, n, line, new.suppliers) for n, line in enumerate(priced.lines, 1)]
    await OrderLine.insert(*lines)
    return order_id


def _line(order_id: int, line_no: int, line: PricedLine, suppliers: SupplierOf) -> OrderLine:
    product = line.product
    supplier_id, supplier_name = suppliers[product.id]
    return OrderLine(
        order=order_id,
        line_no=line_no,
        product=product.id,
        name_zh=product.name_zh,
        unit=product.unit,
        quantity=line.quantity,
        weight_g=line.weight_g,
        unit_price_fen=line.unit_price_fen,
        amount_fen=line.amount_fen,
        discount_fen=line.discount_fen,
        total_fen=line.total_fen,
        certified=product.certified,
        certificate_no=product.certificate_no,
        origin_county_code=product.origin_county_code,
        origin_county_name=product.origin_county_name,
        supplier=supplier_id,
        supplier_name=supplier_name,
    )


async def order_row(order_id: int) -> dict[str, Any]:
    """The order's row, or NotFound."""
    row: dict[str, Any] | None = (
        await Order.select(*_ORDER_COLUMNS).where(Order.id == order_id).first()
    )
    if row is None:
        raise NotFound(f"no order {order_id}", code="order_not_found")
    return row


async def locked_order(order_id: int) -> dict[str, Any]:
    """The order's row, locked until the caller's transaction ends; NotFound if none.

    On SQLite the write transaction itself is the lock (BEGIN IMMEDIATE).
    """
    select = Order.select(*_ORDER_COLUMNS).where(Order.id == order_id)
    if not isinstance(current_engine(), SQLiteEngine):
        select = select.lock_rows()
    row: dict[str, Any] | None = await select.first()
    if row is None:
        raise NotFound(f"no order {order_id}", code="order_not_found")
    return row


async def record_transition(
    order_id: int,
    before: OrderState | None,
    after: OrderState,
    event: str,
    *,
    actor: str,
    reason: str = "",
) -> int:
    """Record one transition (in the caller's transaction); returns its id."""
    row = OrderTransition(
        order=order_id,
        from_state=before or "",
        to_state=after,
        event=event,
        actor=actor[:64],
        reason=reason[:255],
    )
    return int((await OrderTransition.insert(row).returning(OrderTransition.id))[0]["id"])


async def order_lines(order_id: int) -> list[OrderLineOut]:
    """The order's lines as sold, in order."""
    rows = (
        await OrderLine.select(
            *[column for column in OrderLine._meta.columns if column._meta.name != "order"]
        )
        .where(OrderLine.order == order_id)
        .order_by(OrderLine.line_no)
    )
    return [
        OrderLineOut(**row, product_id=row["product"], supplier_id=row["supplier"]) for row in rows
    ]


async def sold_units(order_id: int) -> dict[int, int]:
    """Pieces or grams of each product on the order: what it holds, or sold."""
    units: dict[int, int] = {}
    for line in await order_lines(order_id):
        units[line.product_id] = units.get(line.product_id, 0) + (
            line.quantity or line.weight_g or 0
        )
    return units


async def order_out(row: dict[str, Any], *, access_token: str | None = None) -> OrderOut:
    """The API's view of an order row."""
    return OrderOut(**row, lines=await order_lines(row["id"]), access_token=access_token)
