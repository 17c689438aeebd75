from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pos.inventory import replenishment
from pos.inventory.schemas import RestockOrderIn, ThresholdIn
from pos.inventory.supplier_sync import apply_updates
from pos.inventory.sync_schemas import StockUpdateIn
from pos.orders import service as orders
from tests.helpers.shop import open_shop

from .conftest import certificate_of

pytestmark = pytest.mark.anyio


async def test_low_stock_suggests_from_sales_and_the_suppliers_stock(db: str) -> None:
    shop = await open_shop()
    low, fine = await shop.add(stock=20), await shop.add(stock=50)
    await replenishment.set_threshold(
        shop.store_id, low, ThresholdIn(min_level=10, target_level=30)
    )
    await replenishment.set_threshold(
        shop.store_id, fine, ThresholdIn(min_level=10, target_level=30)
    )
    created = await shop.order({"product_id": low, "quantity": 14})
    await orders.mark_paid(
        created.order.id,
        amount_fen=created.order.total_fen,
        method="sandbox",
        reference="p1",
        payer_hash=None,
        paid_at=datetime.now(UTC),
    )
    [alert] = await replenishment.low_stock(shop.store_id)
    assert (alert.product_id, alert.available, alert.sold_last_days) == (low, 6, 14)
    assert alert.supplier_available is None
    assert alert.suggested == 24
    update = StockUpdateIn(
        certificate_no=await certificate_of(low), available=15, updated_at=datetime.now(UTC)
    )
    await apply_updates(shop.supplier_id, [update])
    [capped] = await replenishment.low_stock(shop.store_id)
    assert (capped.supplier_available, capped.suggested) == (15, 15)


async def test_restock_orders_are_placed_once_per_key_and_per_supplier(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(stock=1)
    lines = RestockOrderIn.model_validate({"lines": [{"product_id": product, "quantity": 24}]})
    placed = await replenishment.place_orders(
        shop.store_id, lines, actor="staff:1", idempotency_key="ro-1"
    )
    again = await replenishment.place_orders(
        shop.store_id, lines, actor="staff:1", idempotency_key="ro-1"
    )
    assert placed == again
    assert [(o.supplier_id, o.lines[0].quantity) for o in placed] == [(shop.supplier_id, 24)]
    assert await replenishment.restock_orders(supplier_id=shop.supplier_id) == placed
