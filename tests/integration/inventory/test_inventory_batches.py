from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from pos.errors import Conflict
from pos.inventory import movements, receiving, shelf_life
from pos.inventory import service as inventory
from pos.inventory.schemas import MovementIn, ReceivingScanIn, ReceivingStartIn
from pos.inventory.tables import StockBatch, StockMovement
from pos.orders import service as orders
from tests.helpers.shop import Shop, open_shop
from tests.helpers.staff import login_as

pytestmark = pytest.mark.anyio


def _in(hours: float) -> datetime:
    return datetime.now(UTC) + timedelta(hours=hours)


async def receive(shop: Shop, product: int, *lots: tuple[str, int, datetime | None]) -> None:
    """Receive lots (name, units, expiry) of a product through a blank receiving."""
    session = await receiving.start(
        shop.store_id, ReceivingStartIn(), actor="staff:1", idempotency_key=None
    )
    for lot, units, expires_at in lots:
        scan = ReceivingScanIn(product_id=product, quantity=units, lot=lot, expires_at=expires_at)
        await receiving.scan(shop.store_id, session.id, scan, actor="staff:1", idempotency_key=None)
    await receiving.confirm(shop.store_id, session.id, actor="staff:1")


async def _remaining(product: int) -> dict[str, int]:
    rows = await StockBatch.select(StockBatch.lot, StockBatch.remaining).where(
        StockBatch.product == product
    )
    return {row["lot"]: row["remaining"] for row in rows}


async def _batch_id(product: int, lot: str) -> int:
    row = (
        await StockBatch.select(StockBatch.id)
        .where((StockBatch.product == product) & (StockBatch.lot == lot))
        .first()
    )
    assert row is not None
    return int(row["id"])


async def _sell(shop: Shop, product: int, quantity: int) -> int:
    created = await shop.order({"product_id": product, "quantity": quantity})
    order = created.order
    await orders.mark_paid(
        order.id,
        amount_fen=order.total_fen,
        method="sandbox",
        reference=f"pay-{order.id}",
        payer_hash=None,
        paid_at=datetime.now(UTC),
    )
    return order.id


async def test_a_sale_takes_the_batch_expiring_first(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(stock=0)
    await receive(shop, product, ("LATE", 5, _in(96)), ("EARLY", 3, _in(30)), ("KEEPS", 4, None))
    order_id = await _sell(shop, product, 5)
    assert await _remaining(product) == {"LATE": 3, "EARLY": 0, "KEEPS": 4}
    sales = await StockMovement.select(StockMovement.delta, StockMovement.batch).where(
        (StockMovement.kind == "sale") & (StockMovement.reference == f"order:{order_id}")
    )
    assert sorted(row["delta"] for row in sales) == [-3, -2]
    assert (await inventory.get_level(shop.store_id, product)).on_hand == 7


async def test_an_expired_batch_is_refused_at_sale_and_listed_for_write_off(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(stock=0)
    await receive(shop, product, ("OLD", 4, _in(1)))
    await StockBatch.update({StockBatch.expires_at: _in(-1)}).where(StockBatch.lot == "OLD")
    with pytest.raises(Conflict) as refused:
        await shop.order({"product_id": product, "quantity": 1})
    assert refused.value.code == "batch_expired"
    listed = await shelf_life.expiring(shop.store_id, within_hours=0)
    assert [(batch.lot, batch.expired, batch.remaining) for batch in listed] == [("OLD", True, 4)]
    written = await shelf_life.write_off_batch(
        shop.store_id, listed[0].id, reason="expired", actor="staff:2", idempotency_key=None
    )
    assert (written.kind, written.delta, written.batch_id) == ("write_off", -4, listed[0].id)
    assert (await inventory.get_level(shop.store_id, product)).on_hand == 0
    assert await shelf_life.expiring(shop.store_id, within_hours=0) == []


async def test_a_retried_batch_write_off_answers_the_first_and_writes_off_nothing_more(
    client: httpx.AsyncClient,
) -> None:
    shop = await open_shop()
    product = await shop.add(stock=0)
    await receive(shop, product, ("L1", 6, _in(200)))
    order_id = await _sell(shop, product, 2)
    batch = await _batch_id(product, "L1")
    await login_as(client, "restocker", shop.store_id)
    url = f"/api/stores/{shop.store_id}/inventory/batches/{batch}/write-off"
    key = {"Idempotency-Key": "write-off-L1"}
    first = await client.post(url, json={"reason": "crushed"}, headers=key)
    assert first.status_code == 201, first.text
    # A shopper brings the 2 units back: they go into the batch their sale took them from.
    reference = f"order:{order_id}"
    await inventory.restock(
        shop.store_id, {product: 2}, actor="staff:9", why="", reference=reference
    )

    retried = await client.post(url, json={"reason": "crushed"}, headers=key)  # answer was lost

    assert (retried.status_code, retried.json()) == (201, first.json())
    assert (await inventory.get_level(shop.store_id, product)).on_hand == 2
    assert await StockMovement.count().where(StockMovement.kind == "write_off") == 1


async def test_writing_off_fresh_units_an_unpaid_order_holds_is_refused(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(stock=0)
    await receive(shop, product, ("OLD", 5, _in(1)), ("NEW", 5, _in(200)))
    await StockBatch.update({StockBatch.expires_at: _in(-2)}).where(StockBatch.lot == "OLD")
    await shop.order({"product_id": product, "quantity": 5})  # holds the 5 fresh units
    fresh = await _batch_id(product, "NEW")

    # Taken, the order's 5 held units would be left in the expired batch only: paid, the sale
    # takes them from it (fefo.plan_sale's last resort) and the shopper gets expired goods.
    with pytest.raises(Conflict) as refused:
        await shelf_life.write_off_batch(
            shop.store_id, fresh, reason="crushed", actor="staff:1", idempotency_key=None
        )

    assert refused.value.code == "stock_below_held"
    level = await inventory.get_level(shop.store_id, product)
    assert (level.on_hand, level.held) == (10, 5)
    assert await _remaining(product) == {"OLD": 5, "NEW": 5}


async def test_taking_unbatched_units_an_unpaid_order_holds_beside_an_expired_batch_is_refused(
    db: str,
) -> None:
    shop = await open_shop()
    product = await shop.add(stock=5)  # counted in, without a batch
    await receive(shop, product, ("OLD", 5, _in(1)))
    await StockBatch.update({StockBatch.expires_at: _in(-2)}).where(StockBatch.lot == "OLD")
    await shop.order({"product_id": product, "quantity": 5})
    change = MovementIn(product_id=product, kind="adjustment", quantity=-5, reason="broken")

    with pytest.raises(Conflict) as refused:
        await movements.record(shop.store_id, change, actor="staff:1", idempotency_key=None)

    assert refused.value.code == "stock_below_held"
    level = await inventory.get_level(shop.store_id, product)
    assert (level.on_hand, level.held) == (10, 5)


async def test_a_write_off_of_units_unpaid_orders_hold_says_so(client: httpx.AsyncClient) -> None:
    shop = await open_shop()
    product = await shop.add(stock=0)
    await receive(shop, product, ("L1", 5, _in(200)))
    await shop.order({"product_id": product, "quantity": 3})
    await login_as(client, "restocker", shop.store_id)
    url = f"/api/stores/{shop.store_id}/inventory/batches/{await _batch_id(product, 'L1')}"

    refused = await client.post(f"{url}/write-off", json={"reason": "crushed"})

    assert (refused.status_code, refused.json()["code"]) == (409, "stock_below_held")
    assert "unpaid orders hold" in refused.json()["detail"]
    assert (await inventory.get_level(shop.store_id, product)).on_hand == 5


async def test_fresh_units_still_sell_beside_an_expired_batch(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(stock=0)
    await receive(shop, product, ("OLD", 4, _in(1)), ("NEW", 2, _in(100)))
    await StockBatch.update({StockBatch.expires_at: _in(-1)}).where(StockBatch.lot == "OLD")
    await _sell(shop, product, 2)
    assert await _remaining(product) == {"OLD": 4, "NEW": 0}
    with pytest.raises(Conflict):
        await shop.order({"product_id": product, "quantity": 1})


async def test_the_store_s_stock_list_leaves_expired_units_out_of_what_is_available(
    db: str,
) -> None:
    shop = await open_shop()
    product = await shop.add(stock=0)
    await receive(shop, product, ("OLD", 4, _in(1)), ("NEW", 3, _in(100)))
    await StockBatch.update({StockBatch.expires_at: _in(-1)}).where(StockBatch.lot == "OLD")

    [listed] = await movements.levels(shop.store_id)

    assert (listed.on_hand, listed.available) == (7, 3)
    assert listed == await inventory.get_level(shop.store_id, product)


async def test_scans_of_one_product_with_different_expiries_keep_the_earlier_one(
    db: str,
) -> None:
    shop = await open_shop()
    product = await shop.add(stock=0)
    await receive(shop, product, ("", 5, _in(20)), ("", 5, _in(24 * 10)))  # no lot printed
    soon = await shelf_life.expiring(shop.store_id, within_hours=48)
    assert [batch.remaining for batch in soon] == [5]


async def test_the_near_expiry_list_shows_batches_within_the_window(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(stock=0)
    await receive(shop, product, ("SOON", 2, _in(20)), ("LATER", 2, _in(80)), ("KEEPS", 2, None))
    listed = await shelf_life.expiring(shop.store_id, within_hours=48)
    assert [(batch.lot, batch.expired) for batch in listed] == [("SOON", False)]
    assert len(await shelf_life.expiring(shop.store_id, within_hours=100)) == 2


async def test_a_markdown_rule_prices_the_near_expiry_batch_down(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(price_fen=1000, stock=0)
    await receive(shop, product, ("SOON", 3, _in(10)))
    await shop.add_markdown_rule(within_hours=24, percent=30)
    order = (await shop.order({"product_id": product, "quantity": 2})).order
    assert (order.subtotal_fen, order.discount_fen, order.total_fen) == (2000, 600, 1400)
    assert order.lines[0].discount_fen == 600
    await receive(shop, product, ("FRESH", 3, _in(200)))
    await StockBatch.update({StockBatch.remaining: 0}).where(StockBatch.lot == "SOON")
    again = (await shop.order({"product_id": product, "quantity": 1})).order
    assert again.discount_fen == 0


async def test_a_markdown_covers_only_the_units_of_the_near_expiry_batch(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(price_fen=1000, stock=0)
    await receive(shop, product, ("SOON", 1, _in(10)), ("FRESH", 99, _in(200)))
    await shop.add_markdown_rule(within_hours=24, percent=30)
    order = (await shop.order({"product_id": product, "quantity": 10})).order
    assert (order.subtotal_fen, order.discount_fen, order.total_fen) == (10000, 300, 9700)


async def test_near_expiry_units_held_by_unpaid_orders_are_not_marked_down_again(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(price_fen=1000, stock=0)
    await receive(shop, product, ("SOON", 3, _in(10)), ("FRESH", 50, _in(200)))
    await shop.add_markdown_rule(within_hours=24, percent=30)
    first = (await shop.order({"product_id": product, "quantity": 2})).order
    second = (await shop.order({"product_id": product, "quantity": 5})).order
    third = (await shop.order({"product_id": product, "quantity": 5})).order
    assert [o.discount_fen for o in (first, second, third)] == [600, 300, 0]


async def test_weighed_lines_of_a_product_share_its_near_expiry_grams(db: str) -> None:
    shop = await open_shop()
    product = await shop.add("kg", price_fen=2000, stock=0)
    await receive(shop, product, ("SOON", 500, _in(10)), ("FRESH", 5000, _in(200)))
    await shop.add_markdown_rule(within_hours=24, percent=30)
    order = (
        await shop.order(
            {"product_id": product, "weight_g": 300}, {"product_id": product, "weight_g": 400}
        )
    ).order
    # 20 yuan/kg: 300 g (600 fen) all marked down, then 200 g of the 400 g (400 fen)
    assert [line.discount_fen for line in order.lines] == [180, 120]
    assert (order.subtotal_fen, order.discount_fen) == (1400, 300)


async def test_a_new_order_gets_the_markdown_of_the_first_batch_nobody_holds(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(price_fen=1000, stock=0)
    await receive(shop, product, ("SOONEST", 1, _in(3)), ("SOON", 2, _in(20)), ("FRESH", 9, None))
    await shop.add_markdown_rule(within_hours=6, percent=50)
    await shop.add_markdown_rule(within_hours=24, percent=20)
    first = (await shop.order({"product_id": product, "quantity": 1})).order
    second = (await shop.order({"product_id": product, "quantity": 5})).order
    assert (first.discount_fen, second.discount_fen) == (500, 400)


async def test_goods_returned_before_a_count_are_recorded_not_added_again(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(stock=0)
    await receive(shop, product, ("L1", 6, _in(200)))
    order_id = await _sell(shop, product, 2)
    returned_at = datetime.now(UTC)
    # One pack is back on the shelf, and a count finds it before its refund is finished.
    await inventory.set_level(shop.store_id, product, 5)
    reference = f"order:{order_id}"

    await inventory.restock(
        shop.store_id,
        {product: 1},
        actor="staff:9",
        why="",
        reference=reference,
        occurred_at=returned_at,
    )

    assert (await inventory.get_level(shop.store_id, product)).on_hand == 5
    assert await _remaining(product) == {"L1": 4}  # the count has the pack, outside the batch
    returned = await StockMovement.select(
        StockMovement.applied, StockMovement.occurred_at, StockMovement.batch
    ).where(StockMovement.kind == "return")
    assert returned == [
        {"applied": False, "occurred_at": returned_at, "batch": await _batch_id(product, "L1")}
    ]
    # The sale's other pack, back after the count, goes into its batch: the first is back.
    await inventory.restock(
        shop.store_id, {product: 1}, actor="staff:9", why="", reference=reference
    )
    assert (await inventory.get_level(shop.store_id, product)).on_hand == 6
    assert await _remaining(product) == {"L1": 5}
