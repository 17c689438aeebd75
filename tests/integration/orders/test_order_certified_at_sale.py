"""Whether a line is certified is decided again when the order is paid, and frozen there."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from pos.catalog.tables import Product
from pos.events.tables import OutboxEvent
from pos.orders import service as orders
from pos.orders.schemas import OrderOut
from tests.helpers.clock import Tomorrow
from tests.helpers.shop import open_shop

pytestmark = pytest.mark.anyio


async def _pay(order: OrderOut) -> None:
    await orders.mark_paid(
        order.id,
        amount_fen=order.total_fen,
        method="sandbox_qr",
        reference="T-1",
        payer_hash=None,
        paid_at=datetime.now(UTC),
    )


async def _sale() -> dict[str, Any]:
    event = (
        await OutboxEvent.select(OutboxEvent.payload)
        .where(OutboxEvent.kind == orders.ORDER_PAID)
        .first()
    )
    assert event is not None
    payload = event["payload"]
    return json.loads(payload) if isinstance(payload, str) else payload


async def test_a_certificate_suspended_before_payment_is_not_sold_as_certified(db: str) -> None:
    shop = await open_shop()
    noodles = await shop.add(price_fen=1250, stock=10)
    order = (await shop.order({"product_id": noodles, "quantity": 1})).order
    assert order.lines[0].certified
    # The authority suspends the certificate (a catalog import) while the shopper is paying.
    await Product.update({Product.status: "suspended"}).where(Product.id == noodles)
    await _pay(order)
    sale = await _sale()
    # The platform forwards what order_paid carries: a suspended certificate must not count.
    assert [line["certified"] for line in sale["lines"]] == [False]


async def test_an_order_paid_after_the_stores_midnight_is_certified_as_of_the_new_day(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = await open_shop()
    ending, starting, lasting = [await shop.add(price_fen=1000) for _ in range(3)]
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    await Product.update({Product.valid_until: today}).where(Product.id == ending)
    tomorrow = Tomorrow.now(ZoneInfo("Asia/Shanghai")).date()
    await Product.update({Product.valid_from: tomorrow}).where(Product.id == starting)
    lines = [{"product_id": p, "quantity": 1} for p in (ending, starting, lasting)]
    order = (await shop.order(*lines)).order
    assert [line.certified for line in order.lines] == [True, False, True]

    monkeypatch.setattr(orders, "datetime", Tomorrow)
    await _pay(order)

    assert [line["certified"] for line in (await _sale())["lines"]] == [False, True, True]
    assert [line.certified for line in (await orders.get_order(order.id)).lines] == [
        False,
        True,
        True,
    ]
    paid = (await orders.transitions(order.id))[-1]
    assert paid.reason == (
        "sandbox_qr T-1; lines no longer certified: 1; lines certified since the order: 2"
    )


async def test_a_line_certified_at_payment_as_at_the_order_leaves_the_reason_alone(
    db: str,
) -> None:
    shop = await open_shop()
    noodles = await shop.add(price_fen=1250)
    water = await shop.add(price_fen=200, certified=False)
    lines = [{"product_id": p, "quantity": 1} for p in (noodles, water)]
    order = (await shop.order(*lines)).order
    await _pay(order)
    assert [line["certified"] for line in (await _sale())["lines"]] == [True, False]
    assert (await orders.transitions(order.id))[-1].reason == "sandbox_qr T-1"
