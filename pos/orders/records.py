"""Order rows: writing a new order with its lines, locking one, recording transitions, reading."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from piccolo.engine.sqlite import SQLiteEngine

from pos.db import Statement, current_engine, placeholders
from pos.errors import NotFound
from pos.orders.pricing import PricedLine, PricedOrder
from pos.orders.refund_shares import LineShare, RefundLine
from pos.orders.schemas import OrderLineOut, OrderOut, TransitionOut
from pos.orders.states import OrderState
from pos.orders.tables import OrderLine, OrderTransition
from pos.staff.actors import device_name
from pos.stores import listings

__all__ = [
    "NewOrder",
    "Seller",
    "SupplierOf",
    "add_refund_shares",
    "certify_at_sale",
    "insert_order",
    "locked_order",
    "order_access",
    "order_lines",
    "order_out",
    "order_row",
    "record_transition",
    "refund_lines",
    "restocked",
    "restocked_after",
    "seller_name",
    "set_state",
    "sold_units",
    "transitions",
    "units_of",
]

SupplierOf = dict[int, tuple[int, str]]
"""Product id -> (supplier id, supplier name)."""

_ORDER = (
    "SELECT id, number, store AS store_id, counter AS counter_id, device AS device_id, state,"
    " subtotal_fen, discount_fen, total_fen, refunded_fen, restocked, created_at, expires_at,"
    " paid_at, business_day, payment_method, payment_reference, payer_hash, access_token_hash,"
    " request_hash FROM orders WHERE id = {}"
)
_ORDER_ROW = Statement(_ORDER)
_LOCKED_ORDER_ROW = Statement(_ORDER + " FOR UPDATE")
_ORDER_ACCESS = Statement(
    "SELECT access_token_hash, store AS store_id, state FROM orders WHERE id = {}"
)
_LINE_NAMES = (
    "line_no",
    "name_zh",
    "unit",
    "quantity",
    "weight_g",
    "unit_price_fen",
    "amount_fen",
    "discount_fen",
    "total_fen",
    "certified",
    "certificate_no",
    "origin_county_code",
    "origin_county_name",
    "supplier_name",
)
_LINES = ", ".join(_LINE_NAMES)
_ORDER_LINES = Statement(
    f"SELECT product AS product_id, supplier AS supplier_id, {_LINES}"  # noqa: S608
    ' FROM order_line WHERE "order" = {} ORDER BY line_no'
)
_INSERT_ORDER = Statement(
    "INSERT INTO orders (store, counter, device, state, subtotal_fen, discount_fen, total_fen,"
    " refunded_fen, access_token_hash, idempotency_scope_key, request_hash, created_at,"
    " expires_at, number, paid_at, payment_method, payment_reference, payer_hash)"
    " VALUES ({}, {}, {}, {}, {}, {}, {}, 0, {}, {}, {}, {}, {}, '', NULL, '', '', NULL)"
    " ON CONFLICT (idempotency_scope_key) DO NOTHING RETURNING id"
)
_REFUND_LINES = Statement(
    "SELECT line_no, product AS product_id, COALESCE(quantity, weight_g, 0) AS units, total_fen,"
    ' refunded_fen, returned_units FROM order_line WHERE "order" = {} ORDER BY line_no'
)
_ADD_REFUND_SHARE = Statement(
    "UPDATE order_line SET refunded_fen = refunded_fen + {}, returned_units = returned_units + {}"
    ' WHERE "order" = {} AND line_no = {}'
)
_SET_NUMBER = Statement("UPDATE orders SET number = {} WHERE id = {}")
_RECORD_TRANSITION = Statement(
    'INSERT INTO order_transition ("order", from_state, to_state, event, at, actor, reason)'
    " VALUES ({}, {}, {}, {}, {}, {}, {}) RETURNING id"
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
        return seller_name(counter_id=self.counter_id, device_id=self.device_id)


def seller_name(*, counter_id: int | None, device_id: int | None = None) -> str:
    """A seller's name (`Seller.name`) before its store is looked up."""
    return device_name(device_id) if device_id else f"counter:{counter_id}"


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


async def insert_order(new: NewOrder) -> OrderOut | None:
    """Insert the order and its lines (in the caller's transaction); the order as created.

    None when an order already has the same idempotency scope key: the caller answers with it.
    """
    seller, priced = new.seller, new.priced
    inserted = await _INSERT_ORDER.first(
        seller.store_id,
        seller.counter_id,
        seller.device_id,
        OrderState.OPEN,
        priced.subtotal_fen,
        priced.discount_fen,
        priced.total_fen,
        new.token_hash,
        new.scope_key,
        new.request_hash,
        new.created_at,
        new.expires_at,
    )
    if inserted is None:
        return None
    order_id: int = inserted["id"]
    local_day = new.created_at.astimezone(ZoneInfo(new.time_zone))
    number = f"{local_day:%y%m%d}{order_id:06d}"
    await _SET_NUMBER.rows(number, order_id)
    lines = [_line_out(n, line, new.suppliers) for n, line in enumerate(priced.lines, 1)]
    await _insert_lines(len(lines)).rows(
        *(v for line in lines for v in _line_values(order_id, line))
    )
    return OrderOut(
        id=order_id,
        number=number,
        store_id=seller.store_id,
        counter_id=seller.counter_id,
        device_id=seller.device_id,
        state=OrderState.OPEN,
        subtotal_fen=priced.subtotal_fen,
        discount_fen=priced.discount_fen,
        total_fen=priced.total_fen,
        refunded_fen=0,
        created_at=new.created_at,
        expires_at=new.expires_at,
        paid_at=None,
        payment_method="",
        lines=lines,
    )


def _line_out(line_no: int, line: PricedLine, suppliers: SupplierOf) -> OrderLineOut:
    product = line.product
    supplier_id, supplier_name = suppliers[product.id]
    return OrderLineOut(
        line_no=line_no,
        product_id=product.id,
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
        supplier_id=supplier_id,
        supplier_name=supplier_name,
    )


def _line_values(order_id: int, line: OrderLineOut) -> list[Any]:
    return [order_id, line.product_id, line.supplier_id, *(getattr(line, n) for n in _LINE_NAMES)]


@functools.cache
def _insert_lines(count: int) -> Statement:
    """One insert of `count` lines (at most 100 an order, so few texts are ever cached)."""
    row = f"({placeholders(3 + len(_LINE_NAMES))})"
    values = ", ".join([row] * count)
    insert = f'INSERT INTO order_line ("order", product, supplier, {_LINES}) VALUES {values}'  # noqa: S608
    return Statement(insert)


async def order_row(order_id: int) -> dict[str, Any]:
    """The order's row, or NotFound."""
    return _found(await _ORDER_ROW.first(order_id), order_id)


async def order_access(order_id: int) -> dict[str, Any]:
    """What deciding who may see the order needs: its token hash, store and state; NotFound."""
    return _found(await _ORDER_ACCESS.first(order_id), order_id)


async def locked_order(order_id: int) -> dict[str, Any]:
    """The order's row, locked until the caller's transaction ends; NotFound if none.

    On SQLite the write transaction itself is the lock (BEGIN IMMEDIATE).
    """
    sqlite = isinstance(current_engine(), SQLiteEngine)
    return _found(await (_ORDER_ROW if sqlite else _LOCKED_ORDER_ROW).first(order_id), order_id)


def _found(row: dict[str, Any] | None, order_id: int) -> dict[str, Any]:
    if row is None:
        raise NotFound(f"no order {order_id}", code="order_not_found")
    return row


async def set_state(order_id: int, state: OrderState, **values: Any) -> None:
    """Move the order to `state`, also setting `values` by column name (caller's transaction)."""
    await _set_state(tuple(values)).rows(state, *values.values(), order_id)


@functools.cache
def _set_state(names: tuple[str, ...]) -> Statement:
    also = "".join(f", {name} = {{}}" for name in names)
    return Statement(f"UPDATE orders SET state = {{}}{also} WHERE id = {{}}")  # noqa: S608


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
    at = datetime.now(UTC)
    values = (order_id, before or "", after, event, at, actor[:64], reason[:255])
    rows = await _RECORD_TRANSITION.rows(*values)
    return int(rows[0]["id"])


async def transitions(order_id: int) -> list[TransitionOut]:
    """The order's recorded transitions, oldest first."""
    rows = await (
        OrderTransition.select(
            OrderTransition.from_state,
            OrderTransition.to_state,
            OrderTransition.event,
            OrderTransition.at,
            OrderTransition.actor,
            OrderTransition.reason,
        )
        .where(OrderTransition.order == order_id)
        .order_by(OrderTransition.id)
    )
    return [TransitionOut(**{**row, "from_state": row["from_state"] or None}) for row in rows]


async def order_lines(order_id: int) -> list[OrderLineOut]:
    """The order's lines as sold, in order."""
    return [OrderLineOut(**row) for row in await _ORDER_LINES.rows(order_id)]


def units_of(lines: Sequence[OrderLineOut]) -> dict[int, int]:
    """Pieces or grams of each product on the lines: what the order holds, or sold."""
    units: dict[int, int] = {}
    for line in lines:
        units[line.product_id] = units.get(line.product_id, 0) + (
            line.quantity or line.weight_g or 0
        )
    return units


async def sold_units(order_id: int) -> dict[int, int]:
    """Pieces or grams of each product on the order: what it holds, or sold."""
    return units_of(await order_lines(order_id))


async def refund_lines(order_id: int) -> list[RefundLine]:
    """The order's lines as refunds see them: sold, and what refunds took of them so far."""
    return [RefundLine(**row) for row in await _REFUND_LINES.rows(order_id)]


async def add_refund_shares(order_id: int, shares: Sequence[LineShare]) -> None:
    """Add a refund's shares to the order's lines (in the caller's transaction)."""
    for share in shares:
        await _ADD_REFUND_SHARE.rows(share.fen, share.units, order_id, share.line_no)


def restocked(row: dict[str, Any]) -> dict[int, int]:
    """Units of each product the order's refunds have put back on the shelf so far."""
    return {int(product): units for product, units in json.loads(row["restocked"]).items()}


def restocked_after(row: dict[str, Any], units: Mapping[int, int]) -> str:
    """The order's `restocked` value once `units` more are back, as stored."""
    back = restocked(row)
    for product_id, n in units.items():
        back[product_id] = back.get(product_id, 0) + n
    return json.dumps({str(product): n for product, n in back.items()})


async def order_out(row: dict[str, Any], *, access_token: str | None = None) -> OrderOut:
    """The API's view of an order row."""
    return OrderOut(**row, lines=await order_lines(row["id"]), access_token=access_token)


async def certify_at_sale(
    row: dict[str, Any], lines: list[OrderLineOut], *, at: datetime, paid_at: datetime
) -> tuple[list[OrderLineOut], str, date | None]:
    """The lines as sold `at`, `certified` decided again and stored; a note of what changed;
    and the sale's business day, `paid_at`'s date in the store's zone (None without lines).

    A certificate may have been suspended, or the store's day may have ended, since the order
    was made: what counts is the moment of sale. The day is frozen with the sale, so a later
    change of the store's zone moves no sale to another day.
    """
    products = {line.product_id for line in lines}
    certified, time_zone = await listings.certified_products(row["store_id"], products, at=at)
    day = paid_at.astimezone(ZoneInfo(time_zone)).date() if time_zone else None
    note = ""
    for flag, change in ((False, "no longer certified"), (True, "certified since the order")):
        numbers = [
            line.line_no
            for line in lines
            if certified[line.product_id] == flag and line.certified != flag
        ]
        if numbers:
            await OrderLine.update({OrderLine.certified: flag}).where(
                (OrderLine.order == row["id"]) & OrderLine.line_no.is_in(numbers)
            )
            note += f"; lines {change}: {', '.join(map(str, numbers))}"
    if not note:
        return lines, "", day
    sold = [line.model_copy(update={"certified": certified[line.product_id]}) for line in lines]
    return sold, note, day
