from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from piccolo.apps.migrations.tables import Migration

from pos.db import Statement, write_transaction
from pos.db.migrate import migrate
from pos.errors import Conflict, InvalidInput
from pos.events import outbox
from pos.events.tables import OutboxEvent
from pos.inventory import service as inventory
from pos.inventory.tables import StockBatch
from pos.orders import service as orders
from pos.orders.schemas import OrderOut
from pos.orders.states import OrderState, Transition
from pos.orders.tables import Order, OrderTransition
from pos.worker import register_handlers
from tests.helpers.shop import Shop, open_shop

pytestmark = pytest.mark.anyio

NOW = datetime.now(UTC)
# Half past midnight of February 1 in Shanghai, the test shops' zone; still January in UTC.
PAST_MIDNIGHT_IN_SHANGHAI = datetime(2026, 1, 31, 16, 30, tzinfo=UTC)
_BUSINESS_DAY_MIGRATIONS = (
    "2026-12-04T20:20:00:000000",
    "2026-12-04T20:20:01:000000",
    "2026-12-04T21:00:00:000000",  # the index on it
)


async def _open_order(stock: int = 10, quantity: int = 2) -> tuple[Shop, int, OrderOut]:
    shop = await open_shop()
    product = await shop.add(price_fen=1500, stock=stock)
    created = await shop.order({"product_id": product, "quantity": quantity})
    return shop, product, created.order


async def _pay(
    order: OrderOut, reference: str = "pay-1", amount: int | None = None, paid_at: datetime = NOW
) -> object:
    return await orders.mark_paid(
        order.id,
        amount_fen=order.total_fen if amount is None else amount,
        method="sandbox",
        reference=reference,
        payer_hash="h" * 64,
        paid_at=paid_at,
    )


async def _stock(shop: Shop, product: int) -> tuple[int, int]:
    level = await inventory.get_level(shop.store_id, product)
    return level.on_hand, level.held


async def _events(kind: str) -> list[dict]:
    return await OutboxEvent.select().where(OutboxEvent.kind == kind)


async def test_paying_turns_the_hold_into_a_sale_with_one_order_paid_event(db: str) -> None:
    shop, product, order = await _open_order()
    await orders.start_payment(order.id)
    result = await _pay(order)
    assert result == Transition(OrderState.PAID)
    assert await _stock(shop, product) == (8, 0)
    paid = await _events(orders.ORDER_PAID)
    assert [event["key"] for event in paid] == [str(order.id)]
    payload = json.loads(paid[0]["payload"])
    assert payload["order_id"] == order.id
    assert payload["store_id"] == shop.store_id
    assert payload["lines"][0]["product_id"] == product
    assert payload["lines"][0]["certified"]
    assert payload["payment_reference"] == "pay-1"
    stored = await orders.get_order(order.id)
    assert stored.state == OrderState.PAID
    assert stored.payment_method == "sandbox"


async def test_the_same_payment_twice_changes_nothing(db: str) -> None:
    shop, product, order = await _open_order()
    await _pay(order)
    again = await _pay(order)
    other = await _pay(order, reference="pay-2")
    assert again == Transition(OrderState.PAID)
    assert other == Transition(OrderState.PAID, refund_required=True)
    assert await _stock(shop, product) == (8, 0)
    assert len(await _events(orders.ORDER_PAID)) == 1


async def test_a_wrong_amount_is_refused_and_changes_nothing(db: str) -> None:
    shop, product, order = await _open_order()
    with pytest.raises(Conflict) as refused:
        await _pay(order, amount=order.total_fen - 1)
    assert refused.value.code == "amount_mismatch"
    assert (await orders.get_order(order.id)).state == OrderState.OPEN
    assert await _stock(shop, product) == (10, 2)


async def test_a_late_payment_on_a_closed_order_must_be_refunded(db: str) -> None:
    shop, product, order = await _open_order()
    await orders.expire(order.id)
    result = await _pay(order)
    assert result == Transition(OrderState.CLOSED, refund_required=True)
    assert await _stock(shop, product) == (10, 0)
    assert await _events(orders.ORDER_PAID) == []


async def test_mark_paid_joins_the_callers_transaction(db: str) -> None:
    shop, product, order = await _open_order()

    class PaymentRowFailed(Exception):
        pass

    async def pay_then_fail() -> None:
        async with write_transaction():
            await _pay(order)
            raise PaymentRowFailed

    with pytest.raises(PaymentRowFailed):
        await pay_then_fail()
    assert (await orders.get_order(order.id)).state == OrderState.OPEN
    assert await _stock(shop, product) == (10, 2)
    assert await _events(orders.ORDER_PAID) == []


async def test_paying_freezes_the_sales_store_local_business_day(db: str) -> None:
    _, _, order = await _open_order()
    await _pay(order, paid_at=PAST_MIDNIGHT_IN_SHANGHAI)
    frozen = await Order.select(Order.business_day).where(Order.id == order.id).first()
    assert frozen == {"business_day": date(2026, 2, 1)}


async def test_the_migration_gives_past_sales_their_stores_business_day(db: str) -> None:
    _, _, order = await _open_order()
    await _pay(order, paid_at=PAST_MIDNIGHT_IN_SHANGHAI)
    await Statement("DROP INDEX orders_business_day").rows()
    await Statement("ALTER TABLE orders DROP COLUMN business_day").rows()
    business_day_migrations = (Migration.app_name == "orders") & Migration.name.is_in(
        _BUSINESS_DAY_MIGRATIONS
    )
    await Migration.delete().where(business_day_migrations)
    try:
        await migrate()
    finally:  # the PostgreSQL database is shared by the tests after this one: leave it migrated
        if await Migration.count().where(business_day_migrations) < len(_BUSINESS_DAY_MIGRATIONS):
            await migrate()
    frozen = await Order.select(Order.business_day).where(Order.id == order.id).first()
    assert frozen == {"business_day": date(2026, 2, 1)}


async def test_a_failed_payment_reopens_the_order(db: str) -> None:
    _, _, order = await _open_order()
    await orders.start_payment(order.id)
    assert await orders.payment_failed(order.id) == Transition(OrderState.OPEN)
    with pytest.raises(Conflict) as refused:
        await orders.payment_failed(order.id)
    assert refused.value.code == "order_state"


async def test_an_expired_order_cannot_start_paying(db: str) -> None:
    _, _, order = await _open_order()
    await Order.update({Order.expires_at: NOW - timedelta(seconds=1)}).where(Order.id == order.id)
    with pytest.raises(Conflict) as refused:
        await orders.start_payment(order.id)
    assert refused.value.code == "order_expired"


async def test_a_paid_order_past_its_hold_is_refused_as_paid_not_as_expired(db: str) -> None:
    # "Expired, order again" would have a shopper whose paid screen was lost pay twice.
    _, _, order = await _open_order()
    await _pay(order)
    await Order.update({Order.expires_at: NOW - timedelta(seconds=1)}).where(Order.id == order.id)
    with pytest.raises(Conflict) as refused:
        await orders.start_payment(order.id)
    assert refused.value.code == "order_state"
    assert refused.value.extra["state"] == "paid"


async def test_expire_is_idempotent(db: str) -> None:
    shop, product, order = await _open_order()
    assert await orders.expire(order.id) == Transition(OrderState.CLOSED)
    assert await orders.expire(order.id) == Transition(OrderState.CLOSED)
    assert await _stock(shop, product) == (10, 0)


async def test_an_unpaid_order_expires_through_the_worker_and_releases_its_stock(db: str) -> None:
    shop, product, order = await _open_order()
    register_handlers()
    assert await outbox.dispatch_due() == 0  # not due before expires_at
    assert await outbox.dispatch_due(now=order.expires_at + timedelta(seconds=1)) == 1
    assert (await orders.get_order(order.id)).state == OrderState.CLOSED
    assert await _stock(shop, product) == (10, 0)


async def test_the_hold_expiry_leaves_a_paying_order_to_the_payments_layer(db: str) -> None:
    shop, product, order = await _open_order()
    await orders.start_payment(order.id)
    register_handlers()
    assert await outbox.dispatch_due(now=order.expires_at + timedelta(seconds=1)) == 1
    assert (await orders.get_order(order.id)).state == OrderState.PAYING
    assert await _stock(shop, product) == (10, 2)


async def test_an_order_reopened_after_its_expiry_ran_still_expires(db: str) -> None:
    shop, product, order = await _open_order()
    await orders.start_payment(order.id)
    register_handlers()
    # The worker's clock a moment ahead of the server's: the expiry runs while the order is paying.
    assert await outbox.dispatch_due(now=order.expires_at + timedelta(seconds=1)) == 1
    await orders.payment_failed(order.id)  # by the server's clock the hold has not ended
    assert await outbox.dispatch_due() == 0  # the reopened order's own expiry is not due yet
    assert await outbox.dispatch_due(now=order.expires_at + timedelta(seconds=2)) == 1
    assert (await orders.get_order(order.id)).state == OrderState.CLOSED
    assert await _stock(shop, product) == (10, 0)


async def test_every_transition_is_recorded(db: str) -> None:
    _, _, order = await _open_order()
    await orders.start_payment(order.id)
    await orders.payment_failed(order.id)
    await orders.start_payment(order.id)
    await _pay(order)
    await orders.record_refund(order.id, amount_fen=100, restock=None)
    rows = (
        await OrderTransition.select()
        .where(OrderTransition.order == order.id)
        .order_by(OrderTransition.id)
    )
    assert [(row["from_state"], row["to_state"], row["event"]) for row in rows] == [
        ("", "open", "created"),
        ("open", "paying", "payment_started"),
        ("paying", "open", "payment_failed"),
        ("open", "paying", "payment_started"),
        ("paying", "paid", "payment_succeeded"),
        ("paid", "partially_refunded", "refunded_partly"),
    ]
    assert all(row["actor"] and row["at"] for row in rows)


async def test_a_partial_then_full_refund_puts_returned_goods_back(db: str) -> None:
    shop, product, order = await _open_order(quantity=3)
    await _pay(order)
    partly = await orders.record_refund(order.id, amount_fen=1500, restock={product: 1})
    assert partly == Transition(OrderState.PARTIALLY_REFUNDED)
    assert await _stock(shop, product) == (8, 0)
    with pytest.raises(InvalidInput) as too_much:
        await orders.record_refund(order.id, amount_fen=order.total_fen, restock=None)
    assert too_much.value.code == "refund_amount"
    full = await orders.record_refund(order.id, amount_fen=3000, restock=None)
    assert full == Transition(OrderState.REFUNDED)
    stored = await orders.get_order(order.id)
    assert stored.refunded_fen == order.total_fen
    assert len(await _events(orders.ORDER_REFUNDED)) == 2


async def test_returned_goods_go_back_into_their_batches_and_expire_with_them(db: str) -> None:
    shop = await open_shop()
    yak = await shop.add(price_fen=3800, stock=3)
    soon, later = await _batch(shop, yak, 2, hours=2), await _batch(shop, yak, 1, hours=48)
    order = (await shop.order({"product_id": yak, "quantity": 3})).order
    await _pay(order)
    assert await _remaining(soon, later) == (0, 0)

    await orders.record_refund(order.id, amount_fen=100, restock={yak: 1})
    assert await _remaining(soon, later) == (1, 0)  # no returned unit outlives its batch
    await orders.record_refund(order.id, amount_fen=100, restock={yak: 2})
    assert await _remaining(soon, later) == (2, 1)

    await StockBatch.update({StockBatch.expires_at: NOW - timedelta(minutes=1)}).where(
        StockBatch.id == soon
    )
    assert (await inventory.get_level(shop.store_id, yak)).available == 1


async def _batch(shop: Shop, product: int, units: int, *, hours: int) -> int:
    batch = StockBatch(
        store=shop.store_id,
        product=product,
        lot=f"L{hours}",
        received_qty=units,
        remaining=units,
        expires_at=datetime.now(UTC) + timedelta(hours=hours),
    )
    return int((await StockBatch.insert(batch))[0]["id"])


async def _remaining(*batch_ids: int) -> tuple[int, ...]:
    rows = await StockBatch.select(StockBatch.id, StockBatch.remaining)
    remaining = {row["id"]: row["remaining"] for row in rows}
    return tuple(remaining[batch_id] for batch_id in batch_ids)


async def test_restocking_more_than_was_sold_is_refused(db: str) -> None:
    _, product, order = await _open_order(quantity=1)
    await _pay(order)
    with pytest.raises(InvalidInput) as refused:
        await orders.record_refund(order.id, amount_fen=100, restock={product: 2})
    assert refused.value.code == "restock_more_than_sold"
    assert (await orders.get_order(order.id)).refunded_fen == 0


async def test_units_already_put_back_cannot_come_back_again(db: str) -> None:
    shop, product, order = await _open_order(quantity=2)
    await _pay(order)
    await orders.record_refund(order.id, amount_fen=100, restock={product: 1})
    with pytest.raises(InvalidInput) as refused:
        await orders.record_refund(order.id, amount_fen=100, restock={product: 2})
    assert (refused.value.code, refused.value.extra["returnable"]) == ("restock_more_than_sold", 1)
    assert await _stock(shop, product) == (9, 0)
    assert (await orders.get_order(order.id)).refunded_fen == 100
    await orders.record_refund(order.id, amount_fen=100, restock={product: 1})
    assert await _stock(shop, product) == (10, 0)
