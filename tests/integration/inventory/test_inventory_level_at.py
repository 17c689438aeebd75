from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pos.inventory import counts, ledger, movements
from pos.inventory import service as inventory
from pos.inventory.schemas import CountScanIn, MovementIn
from pos.inventory.tables import StockLevel
from tests.helpers.shop import Shop, open_shop

pytestmark = pytest.mark.anyio


def _ago(minutes: int) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=minutes)


async def _record(shop: Shop, product: int, kind: str, quantity: int, at: datetime) -> None:
    change = MovementIn.model_validate(
        {
            "product_id": product,
            "kind": kind,
            "quantity": quantity,
            "reason": "x",
            "occurred_at": at,
        }
    )
    await movements.record(shop.store_id, change, actor="staff:1", idempotency_key=None)


async def test_a_later_count_does_not_rewrite_the_level_at_an_earlier_scan(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(stock=10)
    scanned_at = datetime.now(UTC)
    session = await counts.start(shop.store_id, actor="staff:1", idempotency_key=None)
    scan = CountScanIn(product_id=product, quantity=10, counted_at=scanned_at)
    await counts.scan(shop.store_id, session.id, scan, idempotency_key=None)
    assert (await counts.get_count(shop.store_id, session.id)).lines[0].expected == 10
    await inventory.set_level(shop.store_id, product, 7)  # another tablet, later
    assert await ledger.level_at(shop.store_id, product, scanned_at) == 10
    line = (await counts.get_count(shop.store_id, session.id)).lines[0]
    assert (line.expected, line.variance) == (10, 0)


async def test_before_any_count_the_level_is_what_moved_until_then(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(stock=0)
    # Forget the shop's count, so that changes reported from before it apply.
    await StockLevel.update({StockLevel.counted_at: None}).where(StockLevel.product == product)
    await _record(shop, product, "adjustment", 5, _ago(50))
    await _record(shop, product, "adjustment", -2, _ago(40))
    await _record(shop, product, "count", 20, _ago(10))
    assert await ledger.level_at(shop.store_id, product, _ago(45)) == 5


async def test_a_write_off_a_later_count_took_in_still_counts_before_that_count(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(stock=0)
    await StockLevel.update({StockLevel.counted_at: None}).where(StockLevel.product == product)
    await _record(shop, product, "count", 10, _ago(60))
    session = await counts.start(shop.store_id, actor="staff:1", idempotency_key=None)
    scan = CountScanIn(product_id=product, quantity=8, counted_at=_ago(10))
    await counts.scan(shop.store_id, session.id, scan, idempotency_key=None)
    await _record(shop, product, "count", 8, _ago(5))  # another tablet, later
    # A tablet that wrote off 2 spoiled units half an hour ago comes back online.
    await _record(shop, product, "write_off", 2, _ago(30))

    assert (await inventory.get_level(shop.store_id, product)).on_hand == 8  # taken in at -5
    assert await ledger.level_at(shop.store_id, product, _ago(10)) == 8
    [line] = (await counts.get_count(shop.store_id, session.id)).lines
    assert (line.expected, line.variance) == (8, 0)  # no shrinkage the ledger explains
