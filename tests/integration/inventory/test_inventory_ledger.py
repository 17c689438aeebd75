from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from piccolo.query.functions.aggregate import Sum

from pos.db import write_transaction
from pos.errors import Conflict, InvalidInput
from pos.inventory import batches, ledger, movements
from pos.inventory import service as inventory
from pos.inventory.ledger import Entry
from pos.inventory.schemas import MAX_STOCK_QUANTITY, MovementIn, TransferIn
from pos.inventory.tables import StockLevel, StockMovement
from tests.helpers.shop import Shop, open_shop
from tests.helpers.staff import add_store, login_as

pytestmark = pytest.mark.anyio


def _ago(minutes: int) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=minutes)


async def _move(store: int, product: int, delta: int, at: datetime | None = None) -> bool:
    async with write_transaction():
        moved = await ledger.move(store, product, delta, "adjustment", Entry("t", "x", "", at))
    return moved.applied


async def _count(store: int, product: int, counted: int, at: datetime) -> bool:
    async with write_transaction():
        recorded = await ledger.count(store, product, counted, Entry("t", "count", "", at))
    return recorded.applied


async def _uncounted(shop: Shop) -> int:
    """A product whose level was never counted (the shop's helper counts it now)."""
    product = await shop.add(stock=0)
    await StockLevel.update({StockLevel.counted_at: None}).where(StockLevel.product == product)
    return product


async def _receive_lot(
    store: int, product: int, units: int, lot: str, expires_at: datetime
) -> None:
    async with write_transaction():
        batch = await batches.add(
            store, product, units, lot=lot, produced_on=None, expires_at=expires_at, reference="t"
        )
        await ledger.move(store, product, units, "receipt", Entry("t"), batch_id=batch)


async def _on_hand(store: int, product: int) -> int:
    return (await inventory.get_level(store, product)).on_hand


async def _ledger_sum(store: int, product: int) -> int:
    row = await (
        StockMovement.select(Sum(StockMovement.delta))
        .where(
            (StockMovement.store == store)
            & (StockMovement.product == product)
            & StockMovement.applied.eq(True)
        )
        .first()
    )
    return int(row["sum"] or 0) if row else 0


async def test_a_count_sets_the_level_as_of_its_time_and_later_moves_apply_on_top(db: str) -> None:
    shop = await open_shop()
    product = await _uncounted(shop)
    await _move(shop.store_id, product, 5, _ago(50))
    await _move(shop.store_id, product, -2, _ago(10))  # after the count below
    assert await _count(shop.store_id, product, 30, _ago(30))
    assert await _on_hand(shop.store_id, product) == 28


async def test_offline_changes_from_before_the_latest_count_change_nothing(db: str) -> None:
    shop = await open_shop()
    product = await _uncounted(shop)
    assert await _count(shop.store_id, product, 10, _ago(20))
    assert not await _move(shop.store_id, product, -3, _ago(40))  # the count saw it
    assert await _move(shop.store_id, product, 4, _ago(5))
    assert not await _count(shop.store_id, product, 99, _ago(30))  # superseded
    assert await _on_hand(shop.store_id, product) == 14
    assert await _ledger_sum(shop.store_id, product) == 14


async def test_stock_never_goes_negative_through_the_ledger(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(stock=3)
    with pytest.raises(Conflict) as short:
        await _move(shop.store_id, product, -4)
    assert short.value.code == "out_of_stock"
    assert await _on_hand(shop.store_id, product) == 3


@pytest.mark.parametrize("kind", ["adjustment", "return"])
async def test_a_movement_past_what_a_level_holds_is_refused_and_changes_nothing(
    db: str, kind: str
) -> None:
    shop = await open_shop()
    product = await shop.add(stock=10)
    change = MovementIn(product_id=product, kind=kind, quantity=MAX_STOCK_QUANTITY, reason="x")
    with pytest.raises(Conflict) as refused:
        await movements.record(shop.store_id, change, actor="staff:1", idempotency_key=None)
    assert refused.value.code == "stock_over_limit"
    assert refused.value.extra["product_id"] == product
    assert await _on_hand(shop.store_id, product) == await _ledger_sum(shop.store_id, product) == 10


async def test_a_count_with_later_movements_past_what_a_level_holds_is_refused(db: str) -> None:
    shop = await open_shop()
    product = await _uncounted(shop)
    await _move(shop.store_id, product, 10)
    with pytest.raises(Conflict) as refused:
        await _count(shop.store_id, product, MAX_STOCK_QUANTITY, _ago(5))
    assert refused.value.code == "stock_over_limit"
    assert await _on_hand(shop.store_id, product) == await _ledger_sum(shop.store_id, product) == 10


async def test_a_movement_in_the_future_is_refused(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(stock=3)
    with pytest.raises(InvalidInput):
        await _move(shop.store_id, product, 1, datetime.now(UTC) + timedelta(hours=1))


async def test_a_write_off_after_a_count_from_a_tablet_clock_ahead_still_applies(
    client: httpx.AsyncClient,
) -> None:
    shop = await open_shop()
    product = await shop.add(stock=20)
    await login_as(client, "restocker", shop.store_id)
    url = f"/api/stores/{shop.store_id}/inventory/movements"
    count = {"product_id": product, "kind": "count", "quantity": 10, "reason": "shelf count"}
    ahead = _ago(-4).isoformat()  # tablet A's clock is 4 minutes fast (5 are allowed)
    assert (await client.post(url, json=count | {"occurred_at": ahead})).json()["applied"]
    write_off = {"product_id": product, "kind": "write_off", "quantity": 3, "reason": "spoiled"}
    written = await client.post(url, json=write_off | {"occurred_at": _ago(0).isoformat()})
    assert written.status_code == 201, written.text
    assert (written.json()["applied"], await _on_hand(shop.store_id, product)) == (True, 7)


async def test_a_movement_time_before_datetimes_range_is_refused(
    client: httpx.AsyncClient,
) -> None:
    shop = await open_shop()
    product = await shop.add(stock=5)
    await login_as(client, "manager", shop.store_id)
    change = {
        "product_id": product,
        "kind": "adjustment",
        "quantity": 1,
        "reason": "found one",
        "occurred_at": "0001-01-01T00:00:00+05:00",  # its UTC time is before what a datetime holds
    }
    response = await client.post(f"/api/stores/{shop.store_id}/inventory/movements", json=change)
    assert response.status_code == 400, response.text
    assert await _on_hand(shop.store_id, product) == 5


async def test_a_repeated_idempotency_key_records_one_movement(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(stock=3)
    change = MovementIn(product_id=product, kind="adjustment", quantity=2, reason="found")
    first = await movements.record(shop.store_id, change, actor="staff:1", idempotency_key="k1")
    again = await movements.record(shop.store_id, change, actor="staff:1", idempotency_key="k1")
    assert first == again
    assert await _on_hand(shop.store_id, product) == 5
    history = await movements.history(shop.store_id, product_id=product, before_id=None, limit=10)
    assert [(m.kind, m.delta, m.actor, m.reason) for m in history][:1] == [
        ("adjustment", 2, "staff:1", "found")
    ]


async def test_a_transfer_moves_units_between_stores(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(stock=10)
    other = await add_store()
    legs = await movements.transfer(
        shop.store_id,
        TransferIn(to_store_id=other, product_id=product, quantity=4, reason="rebalance"),
        actor="staff:1",
        idempotency_key=None,
    )
    assert [(leg.store_id, leg.delta) for leg in legs] == [(shop.store_id, -4), (other, 4)]
    assert await _on_hand(shop.store_id, product) == 6
    assert await _on_hand(other, product) == 4


async def test_a_transfer_past_what_the_receiving_level_holds_is_refused_and_changes_nothing(
    db: str,
) -> None:
    shop = await open_shop()
    product = await shop.add(stock=10)
    other = await add_store()
    await inventory.set_level(other, product, MAX_STOCK_QUANTITY)
    with pytest.raises(Conflict) as refused:
        await movements.transfer(
            shop.store_id,
            TransferIn(to_store_id=other, product_id=product, quantity=4, reason="rebalance"),
            actor="staff:1",
            idempotency_key=None,
        )
    assert refused.value.code == "stock_over_limit"
    assert await _on_hand(shop.store_id, product) == 10
    assert await _on_hand(other, product) == MAX_STOCK_QUANTITY
    assert await StockMovement.count().where(StockMovement.kind == "transfer") == 0


async def test_a_retried_transfer_moves_the_units_once(client: httpx.AsyncClient) -> None:
    shop = await open_shop()
    product = await shop.add(stock=10)
    other = await add_store()
    await login_as(client, "manager", None)
    url = f"/api/stores/{shop.store_id}/inventory/transfers"
    body = {"to_store_id": other, "product_id": product, "quantity": 4, "reason": "rebalance"}
    first = await client.post(url, json=body, headers={"Idempotency-Key": "t-1"})
    again = await client.post(url, json=body, headers={"Idempotency-Key": "t-1"})
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()
    assert await _on_hand(shop.store_id, product) == 6
    assert await _on_hand(other, product) == 4


async def test_a_transfer_of_an_unknown_product_is_a_404(client: httpx.AsyncClient) -> None:
    shop = await open_shop()
    other = await add_store()
    await login_as(client, "manager", None)
    response = await client.post(
        f"/api/stores/{shop.store_id}/inventory/transfers",
        json={"to_store_id": other, "product_id": 987_654, "quantity": 1, "reason": "x"},
        headers={"Idempotency-Key": "t-unknown"},
    )
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "product_not_found"


async def test_transferred_units_keep_their_batch_and_expiry(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(stock=0)
    expired = datetime.now(UTC) - timedelta(hours=1)
    await _receive_lot(shop.store_id, product, 5, "L1", expired)
    other = await add_store()
    await movements.transfer(
        shop.store_id,
        TransferIn(to_store_id=other, product_id=product, quantity=5, reason="rebalance"),
        actor="staff:1",
        idempotency_key=None,
    )
    assert [(lot.remaining, lot.expires_at) for lot in await batches.lots(other, product)] == [
        (5, expired)
    ]
    with pytest.raises(Conflict) as refused:  # expired here, so expired there too
        await inventory.hold(other, {product: 1})
    assert refused.value.code == "batch_expired"


async def test_a_transfer_leaves_the_units_orders_hold(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(stock=0)
    expired = datetime.now(UTC) - timedelta(hours=1)
    await _receive_lot(shop.store_id, product, 3, "FRESH", datetime.now(UTC) + timedelta(days=2))
    await _receive_lot(shop.store_id, product, 2, "OLD", expired)
    await inventory.hold(shop.store_id, {product: 3})
    other = await add_store()
    await movements.transfer(
        shop.store_id,
        TransferIn(to_store_id=other, product_id=product, quantity=2, reason="rebalance"),
        actor="staff:1",
        idempotency_key=None,
    )
    assert [(lot.remaining, lot.expires_at) for lot in await batches.lots(other, product)] == [
        (2, expired)
    ]
