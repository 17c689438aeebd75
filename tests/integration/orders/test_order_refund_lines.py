"""A refund's fen recorded on the order lines it pays back, and on those of past refunds."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from piccolo.apps.migrations.tables import Migration

from pos.db import Statement
from pos.db.migrate import migrate
from pos.errors import InvalidInput
from pos.events.tables import OutboxEvent
from pos.orders import service as orders
from pos.orders.schemas import OrderOut
from pos.orders.tables import OrderLine
from tests.helpers.shop import open_shop

pytestmark = pytest.mark.anyio

_LINE_MIGRATIONS = ("2026-12-04T22:40:00:000000", "2026-12-04T22:40:01:000000")


async def _paid_order(*prices: int) -> OrderOut:
    """A paid order of one piece of a product at each price, in this order."""
    shop = await open_shop()
    products = [await shop.add(price_fen=price) for price in prices]
    order = (await shop.order(*({"product_id": p, "quantity": 1} for p in products))).order
    await orders.mark_paid(
        order.id,
        amount_fen=order.total_fen,
        method="sandbox",
        reference=uuid.uuid4().hex,
        payer_hash=None,
        paid_at=datetime.now(UTC),
    )
    return order


async def _refunded(order: OrderOut) -> list[tuple[int, int]]:
    rows = await (
        OrderLine.select(OrderLine.refunded_fen, OrderLine.returned_units)
        .where(OrderLine.order == order.id)
        .order_by(OrderLine.line_no)
    )
    return [(row["refunded_fen"], row["returned_units"]) for row in rows]


async def test_a_refund_event_carries_the_share_of_each_line_it_paid_back(db: str) -> None:
    order = await _paid_order(1000, 2000, 700)
    second = order.lines[1].product_id
    await orders.record_refund(order.id, amount_fen=1500, restock=None, returned={second: 1})
    assert await _refunded(order) == [(0, 0), (1500, 1), (0, 0)]
    await orders.record_refund(order.id, amount_fen=1000, restock=None)
    rows = await OutboxEvent.select(OutboxEvent.payload).where(
        OutboxEvent.kind == orders.ORDER_REFUNDED
    )
    payloads = [json.loads(row["payload"]) for row in rows]
    # The second names no goods: it is spread over what is left of the lines, 1000 : 500 : 700
    # (454.5, 227.3 and 318.2: the fen left over to the largest remainder).
    assert [payload["lines"] for payload in payloads] == [
        [{"line_no": 2, "fen": 1500, "units": 1}],
        [
            {"line_no": 1, "fen": 455, "units": 0},
            {"line_no": 2, "fen": 227, "units": 0},
            {"line_no": 3, "fen": 318, "units": 0},
        ],
    ]
    assert await _refunded(order) == [(455, 0), (1727, 1), (318, 0)]


async def test_a_refund_paying_for_goods_already_paid_back_is_refused_under_the_lock(
    db: str,
) -> None:
    order = await _paid_order(1000, 2000)
    first = order.lines[0].product_id
    await orders.record_refund(order.id, amount_fen=1000, restock=None, returned={first: 1})
    with pytest.raises(InvalidInput) as refused:
        await orders.record_refund(order.id, amount_fen=10, restock=None, returned={first: 1})
    assert refused.value.code == "returned_more_than_sold"
    assert await _refunded(order) == [(1000, 1), (0, 0)]
    assert (await orders.get_order(order.id)).refunded_fen == 1000


async def test_the_migration_gives_past_refunds_the_split_analytics_counted(db: str) -> None:
    refunded = await _paid_order(1000, 2000, 700)
    await orders.record_refund(refunded.id, amount_fen=1000, restock=None)
    untouched = await _paid_order(500)
    await Statement("ALTER TABLE order_line DROP COLUMN refunded_fen").rows()
    await Statement("ALTER TABLE order_line DROP COLUMN returned_units").rows()
    line_migrations = (Migration.app_name == "orders") & Migration.name.is_in(_LINE_MIGRATIONS)
    await Migration.delete().where(line_migrations)
    try:
        await migrate()
    finally:  # the PostgreSQL database is shared by the tests after this one: leave it migrated
        if await Migration.count().where(line_migrations) < len(_LINE_MIGRATIONS):
            await migrate()
    # floor(line * 1000 / 3700) is 270, 540 and 189; the fen left over goes to the line the
    # floor cut most (2,000,000 % 3700 = 2000 against 1000 and 700). No goods were recorded.
    assert await _refunded(refunded) == [(270, 0), (541, 0), (189, 0)]
    assert await _refunded(untouched) == [(0, 0)]
