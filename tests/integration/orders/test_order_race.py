from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from pos.errors import Conflict
from pos.inventory import service as inventory
from pos.inventory.tables import StockLevel
from pos.orders import service as orders
from pos.orders.checkout import CreatedOrder
from pos.orders.tables import Order
from tests.helpers.locks import done_or_waiting_for_a_lock
from tests.helpers.shop import open_shop

pytestmark = pytest.mark.anyio


async def _stock(store_id: int, product_id: int) -> tuple[int, int]:
    level = await inventory.get_level(store_id, product_id)
    return level.on_hand, level.held


async def test_200_buyers_racing_for_10_units_sell_exactly_10(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(price_fen=990, stock=10)

    async def buy() -> CreatedOrder | Conflict:
        try:
            return await shop.order({"product_id": product, "quantity": 1})
        except Conflict as refused:
            return refused

    results = await asyncio.gather(*(buy() for _ in range(200)))
    bought = [result for result in results if isinstance(result, CreatedOrder)]
    refused = [result for result in results if isinstance(result, Conflict)]
    assert len(bought) == 10
    assert len(refused) == 190
    assert {error.code for error in refused} == {"out_of_stock"}
    assert await Order.count() == 10
    assert await _stock(shop.store_id, product) == (10, 10)

    paid_at = datetime.now(UTC)
    for result in bought[:6]:
        order = result.order
        await orders.mark_paid(
            order.id,
            amount_fen=order.total_fen,
            method="sandbox",
            reference=f"pay-{order.id}",
            payer_hash=None,
            paid_at=paid_at,
        )
    for result in bought[6:]:
        await orders.expire(result.order.id)
    assert await _stock(shop.store_id, product) == (4, 0)
    levels = await StockLevel.select(StockLevel.on_hand, StockLevel.held)
    assert all(0 <= row["held"] <= row["on_hand"] for row in levels)


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_two_orders_priced_at_once_never_get_the_same_marked_down_units(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = await open_shop()
    product = await shop.add(price_fen=1000, stock=12)
    await shop.mark_down(product, units=2, percent=50)
    first_priced, go_on = asyncio.Event(), asyncio.Event()
    markdowns = inventory.markdowns

    async def first_waits_once_priced(*args: Any, **kwargs: Any) -> Any:
        found = await markdowns(*args, **kwargs)
        if not first_priced.is_set():
            first_priced.set()
            await go_on.wait()
        return found

    monkeypatch.setattr(inventory, "markdowns", first_waits_once_priced)
    first = asyncio.create_task(shop.order({"product_id": product, "quantity": 2}))
    await first_priced.wait()
    second = asyncio.create_task(shop.order({"product_id": product, "quantity": 2}))
    await done_or_waiting_for_a_lock(second.done)  # it runs now, or waits for the first
    go_on.set()
    created = [(await first).order, (await second).order]
    assert [order.discount_fen for order in created] == [1000, 0]
    assert await _stock(shop.store_id, product) == (12, 4)
