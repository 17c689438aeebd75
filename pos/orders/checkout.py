"""Creating an order: priced by the server, its stock held, created once per Idempotency-Key.

The key is scoped by who sent it (`counter:3:<key>`, `device:7:<key>`) and a UNIQUE column holds
it, so two racing retries create one order: the loser's insert does nothing and it reads the
winner's.
The same key with a different request is refused rather than answered with the wrong order.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pos.db import write_transaction
from pos.errors import Conflict, PosError
from pos.events import outbox
from pos.inventory import service as inventory
from pos.orders import records, tokens
from pos.orders.products import price_lines
from pos.orders.records import NewOrder, Seller
from pos.orders.schemas import CounterOrderIn, OrderIn, OrderOut
from pos.orders.service import HOLD_EXPIRY
from pos.orders.states import OrderState
from pos.orders.tables import Order
from pos.staff.actors import DeviceActor
from pos.stores import service as stores
from pos.stores.service import StoreRules

__all__ = ["CreatedOrder", "create_counter_order", "create_kiosk_order"]


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
    store_id, rules = await stores.counter_store_rules(counter_id)
    seller = Seller(store_id=store_id, counter_id=counter_id)
    return await _create(seller, rules, data, idempotency_key=idempotency_key, secret=secret)


async def create_kiosk_order(
    device: DeviceActor, data: OrderIn, *, idempotency_key: str, secret: str
) -> CreatedOrder:
    """An order from a kiosk."""
    seller = Seller(
        store_id=device.store_id, counter_id=device.counter_id, device_id=device.device_id
    )
    rules = await stores.store_rules(device.store_id)
    return await _create(seller, rules, data, idempotency_key=idempotency_key, secret=secret)


async def _create(
    seller: Seller, rules: StoreRules, data: OrderIn, *, idempotency_key: str, secret: str
) -> CreatedOrder:
    scope_key = f"{seller.name}:{idempotency_key}"
    request_hash = hashlib.sha256(data.model_dump_json(exclude={"counter_token"}).encode())
    token = tokens.order_access_token(scope_key, secret=secret)
    try:
        new = await _new_order(seller, rules, data, scope_key, request_hash.hexdigest(), token)
    except PosError:
        # A retry after the catalog or the shop changed still gets the first answer.
        first = await _first_answer(scope_key, request_hash.hexdigest(), token)
        if first is None:
            raise
        return CreatedOrder(first, created=False)
    created = await _insert(new)
    if created is None:
        first = await _first_answer(scope_key, new.request_hash, token)
        assert first is not None  # the insert found it
        return CreatedOrder(first, created=False)
    return CreatedOrder(created.model_copy(update={"access_token": token}), created=True)


async def _new_order(
    seller: Seller, rules: StoreRules, data: OrderIn, scope_key: str, request_hash: str, token: str
) -> NewOrder:
    sale = await price_lines(seller.store_id, data.lines, time_zone=rules.time_zone)
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


async def _insert(new: NewOrder) -> OrderOut | None:
    """The order, its lines, its stock hold, its first transition and its expiry, at once.

    None when the key was used already: the Idempotency-Key's UNIQUE column decides, so two
    racing retries create one order (on PostgreSQL the loser's insert waits for the winner).
    """
    async with write_transaction():
        order = await records.insert_order(new)
        if order is None:
            return None
        await records.record_transition(
            order.id, None, OrderState.OPEN, "created", actor=new.seller.name
        )
        await outbox.emit(
            HOLD_EXPIRY, str(order.id), {"order_id": order.id}, available_at=new.expires_at
        )
        # Last: other orders of these products wait for their stock rows until the commit.
        await inventory.hold(new.seller.store_id, _units(new))
    return order


def _units(new: NewOrder) -> dict[int, int]:
    units: dict[int, int] = {}
    for line in new.priced.lines:
        amount = line.quantity or line.weight_g or 0
        units[line.product.id] = units.get(line.product.id, 0) + amount
    return units
