"""Sales racing with receiving and counts: the level always equals the ledger's sum."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from piccolo.query.functions.aggregate import Sum

from pos.db import write_transaction
from pos.errors import Conflict
from pos.inventory import ledger
from pos.inventory import service as inventory
from pos.inventory.ledger import Entry
from pos.inventory.tables import StockBatch, StockMovement
from pos.orders import service as orders
from tests.helpers.shop import Shop, open_shop

pytestmark = pytest.mark.anyio


async def _buy(shop: Shop, product: int) -> int:
    try:
        created = await shop.order({"product_id": product, "quantity": 1})
    except Conflict:
        return 0
    await orders.mark_paid(
        created.order.id,
        amount_fen=created.order.total_fen,
        method="sandbox",
        reference=f"pay-{created.order.id}",
        payer_hash=None,
        paid_at=datetime.now(UTC),
    )
    return 1


async def _receive(shop: Shop, product: int, units: int) -> None:
    async with write_transaction():
        await ledger.move(shop.store_id, product, units, "receipt", Entry("race", "delivery"))


async def _count(shop: Shop, product: int, counted: int) -> None:
    try:
        async with write_transaction():
            await ledger.count(shop.store_id, product, counted, Entry("race", "count"))
    except Conflict:  # unpaid orders held more than the count: refused, changes nothing
        pass


async def _ledger(product: int, kind: str | None = None) -> int:
    where = (StockMovement.product == product) & StockMovement.applied.eq(True)
    if kind is not None:
        where &= StockMovement.kind == kind
    row = await StockMovement.select(Sum(StockMovement.delta)).where(where).first()
    return int(row["sum"] or 0) if row else 0


@pytest.mark.slow
async def test_sales_racing_receiving_and_counts_never_lose_or_invent_a_unit(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(stock=20)
    work = [_buy(shop, product) for _ in range(60)]
    work += [_receive(shop, product, 5) for _ in range(8)]
    work += [_count(shop, product, 15) for _ in range(4)]
    results = await asyncio.gather(*work)
    sold = sum(result for result in results if isinstance(result, int))

    level = await inventory.get_level(shop.store_id, product)
    assert level.held == 0
    assert level.on_hand == await _ledger(product)
    assert -await _ledger(product, "sale") == sold
    assert await _ledger(product, "receipt") == 40
    batches = await StockBatch.select(Sum(StockBatch.remaining)).first()
    assert batches is None or int(batches["sum"] or 0) <= level.on_hand
