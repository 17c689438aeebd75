"""Creating an order: priced by the server, its stock held, created once per Idempotency-Key.

The key is scoped by who sent it (`counter:3:<key>`, `device:7:<key>`) and a UNIQUE column holds
it, so two racing retries create one order: the loser's insert does nothing, its hold is undone,
and it reads the winner's.
The same key with a different request is refused rather than answered with the wrong order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from pos.db import write_transaction
from pos.errors import Conflict, InvalidInput, PosError
from pos.events import outbox
from pos.inventory import service as inventory
from pos.orders import records, tokens
from pos.orders.pricing import PricedOrder
from pos.orders.products import PricedSale, list_priced, mark_down
from pos.orders.records import NewOrder, Seller
from pos.orders.schemas import CounterOrderIn, OrderIn, OrderOut
from pos.orders.service import HOLD_EXPIRY
from pos.orders.states import OrderState
from pos.orders.tables import Order
from pos.staff.actors import DeviceActor
from pos.stores import service as stores
from pos.stores.service import StoreRules

__all__ = ["CreatedOrder", "counter_order_exists", "create_counter_order", "create_kiosk_order"]


@dataclass(frozen=True, slots=True)
class CreatedOrder:
    """The order, and whether this call created it (False: a retry got the first answer)."""

    order: OrderOut
    created: bool


async def create_counter_order(
    counter_id: int, data: CounterOrderIn, *, idempotency_key: str, secret: str
) -> CreatedOrder:
    """An order from a shopper's phone at a counter, whose QR token must be that counter's."""
    tokens.verify_counter_token(counter_id, data.counter_token, secret=secret)

    async def open_counter() -> tuple[Seller, StoreRules]:
        store_id, rules = await stores.counter_store_rules(counter_id)
        return Seller(store_id=store_id, counter_id=counter_id), rules

    name = records.seller_name(counter_id=counter_id)
    return await _create(name, open_counter, data, idempotency_key=idempotency_key, secret=secret)


async def counter_order_exists(counter_id: int, idempotency_key: str) -> bool:
    """Whether a phone created its order with this key at the counter already."""
    scope_key = _scope_key(records.seller_name(counter_id=counter_id), idempotency_key)
    return await Order.exists().where(Order.idempotency_scope_key == scope_key)


async def create_kiosk_order(
    device: DeviceActor, data: OrderIn, *, idempotency_key: str, secret: str
) -> CreatedOrder:
    """An order from a kiosk."""
    seller = Seller(
        store_id=device.store_id, counter_id=device.counter_id, device_id=device.device_id
    )

    async def open_kiosk() -> tuple[Seller, StoreRules]:
        return seller, await stores.store_rules(device.store_id)

    return await _create(
        seller.name, open_kiosk, data, idempotency_key=idempotency_key, secret=secret
    )


async def _create(
    seller_name: str,
    open_seller: Callable[[], Awaitable[tuple[Seller, StoreRules]]],
    data: OrderIn,
    *,
    idempotency_key: str,
    secret: str,
) -> CreatedOrder:
    scope_key = _scope_key(seller_name, idempotency_key)
    request_hash = hashlib.sha256(data.model_dump_json(exclude={"counter_token"}).encode())
    token = tokens.order_access_token(scope_key, secret=secret)
    try:
        seller, rules = await open_seller()
        sale = await list_priced(seller.store_id, data.lines, rules)
        new = _new_order(seller, rules, sale, scope_key, request_hash.hexdigest(), token)
        created = await _insert(new, sale)
    except PosError:
        # A retry gets the first answer, also after the catalog or the shop changed (the counter
        # closed, say), or once the first order took the last of the stock.
        first = await _first_answer(scope_key, request_hash.hexdigest(), token)
        if first is None:
            raise
        return CreatedOrder(first, created=False)
    return CreatedOrder(created.model_copy(update={"access_token": token}), created=True)


def _scope_key(seller_name: str, idempotency_key: str) -> str:
    return f"{seller_name}:{idempotency_key}"


def _new_order(
    seller: Seller,
    rules: StoreRules,
    sale: PricedSale,
    scope_key: str,
    request_hash: str,
    token: str,
) -> NewOrder:
    now = datetime.now(UTC)
    return NewOrder(
        seller=seller,
        priced=sale.order,
        suppliers=sale.suppliers,
        scope_key=scope_key,
        request_hash=request_hash,
        token_hash=tokens.token_digest(token),
        created_at=now,
        expires_at=now + timedelta(minutes=rules.hold_minutes),
        time_zone=rules.time_zone,
    )


async def _first_answer(scope_key: str, request_hash: str, token: str) -> OrderOut | None:
    """The order an earlier call with the same key created, or None."""
    found = (
        await Order.select(Order.id, Order.request_hash)
        .where(Order.idempotency_scope_key == scope_key)
        .first()
    )
    if found is None:
        return None
    if found["request_hash"] != request_hash:
        raise Conflict(
            "this Idempotency-Key was used for a different order; use a new key",
            code="idempotency_key_reused",
        )
    row = await records.order_row(found["id"])
    return await records.order_out(row, access_token=token)


async def _insert(new: NewOrder, sale: PricedSale) -> OrderOut:
    """The order, its lines, its stock hold, its first transition and its expiry, at once.

    The hold comes first: it locks the products' stock rows until the commit, so the markdowns
    read after it see every other order's hold, and an order racing for the same units waits.
    A used Idempotency-Key raises `Conflict`, undoing the hold.
    """
    store_id, units = new.seller.store_id, _units(new)
    async with write_transaction():
        await inventory.hold(store_id, units)
        priced = _payable(await mark_down(store_id, sale, held_here=units))
        order = _inserted(await records.insert_order(replace(new, priced=priced)))
        await records.record_transition(
            order.id, None, OrderState.OPEN, "created", actor=new.seller.name
        )
        await outbox.emit(
            HOLD_EXPIRY, str(order.id), {"order_id": order.id}, available_at=new.expires_at
        )
    return order


def _payable(priced: PricedOrder) -> PricedOrder:
    """The priced order, unless it comes to 0 fen: no payment provider collects nothing."""
    if priced.total_fen < 1:
        raise InvalidInput(
            "the order comes to 0 fen: add to it, or weigh the item again",
            code="order_total_zero",
        )
    return priced


def _inserted(order: OrderOut | None) -> OrderOut:
    """The new order; `Conflict` when the key's UNIQUE column found one (the caller answers it)."""
    if order is None:
        raise Conflict("this Idempotency-Key has its order already", code="idempotency_key_used")
    return order


def _units(new: NewOrder) -> dict[int, int]:
    units: dict[int, int] = {}
    for line in new.priced.lines:
        amount = line.quantity or line.weight_g or 0
        units[line.product.id] = units.get(line.product.id, 0) + amount
    return units
