from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from pos.errors import Conflict, Forbidden, InvalidInput, NotFound
from pos.inventory import service as inventory
from pos.inventory.tables import StockBatch
from pos.orders import checkout
from pos.orders import service as orders
from pos.orders.products import set_plu
from pos.orders.states import OrderState
from pos.orders.tables import Order, OrderTransition
from pos.stores.tables import Counter, Store
from tests.helpers.shop import SECRET, Shop, make_gtin, open_shop, weight_label

pytestmark = pytest.mark.anyio


async def add_batches(shop: Shop, product: int, *lots: tuple[int, float]) -> None:
    """Batches of the product's stock here: (units, hours until they expire) each."""
    now = datetime.now(UTC)
    await StockBatch.insert(
        *(
            StockBatch(
                store=shop.store_id,
                product=product,
                received_qty=units,
                remaining=units,
                expires_at=now + timedelta(hours=hours),
            )
            for units, hours in lots
        )
    )


async def test_an_order_is_priced_by_the_server_and_holds_its_stock(db: str) -> None:
    shop = await open_shop()
    tea = await shop.add(price_fen=1250, stock=10)
    sauce = await shop.add(price_fen=3000, listing_price_fen=2800, stock=5)
    result = await shop.order(
        {"product_id": tea, "quantity": 2}, {"product_id": sauce, "quantity": 1}
    )
    order = result.order
    assert result.created
    assert order.state == OrderState.OPEN
    assert [line.total_fen for line in order.lines] == [2500, 2800]
    assert order.total_fen == 5300
    assert order.access_token
    assert order.number.endswith(f"{order.id:06d}")
    assert (await inventory.get_level(shop.store_id, tea)).held == 2
    assert (await inventory.get_level(shop.store_id, sauce)).held == 1


async def test_a_client_sent_price_is_ignored(db: str) -> None:
    shop = await open_shop()
    tea = await shop.add(price_fen=1250)
    line = {"product_id": tea, "quantity": 1, "price_fen": 1, "unit_price_fen": 1}
    order = (await shop.order(line)).order
    assert order.total_fen == 1250
    assert order.lines[0].unit_price_fen == 1250


async def test_a_weighed_item_from_a_scale_label_is_priced_by_the_server(db: str) -> None:
    shop = await open_shop()
    bamboo = await shop.add("kg", price_fen=2000, stock=5000)
    await set_plu(shop.store_id, "00042", bamboo)
    order = (await shop.order({"barcode": weight_label("00042", 1234)})).order
    line = order.lines[0]
    assert (line.weight_g, line.quantity, line.unit_price_fen) == (1234, None, 2000)
    assert line.amount_fen == 2468  # 20.00 yuan/kg x 1.234 kg
    assert (await inventory.get_level(shop.store_id, bamboo)).held == 1234


@pytest.mark.parametrize("measure", [{"quantity": 5}, {"weight_g": 100}])
async def test_a_scale_label_with_a_quantity_or_weight_of_its_own_is_refused(
    db: str, measure: dict[str, int]
) -> None:
    shop = await open_shop()
    bamboo = await shop.add("kg", price_fen=2000, stock=5000)
    await set_plu(shop.store_id, "00042", bamboo)
    with pytest.raises(InvalidInput) as refused:
        await shop.order({"barcode": weight_label("00042", 1234), **measure})
    assert refused.value.code == "line_label_measured"
    assert (await inventory.get_level(shop.store_id, bamboo)).held == 0


async def test_a_four_digit_plu_is_found_from_its_five_digit_label_field(db: str) -> None:
    shop = await open_shop()
    bamboo = await shop.add("kg", price_fen=2000, stock=5000)
    await set_plu(shop.store_id, "1234", bamboo)  # as staff type it into the scale
    order = (await shop.order({"barcode": weight_label("01234", 500)})).order
    assert order.lines[0].product_id == bamboo
    assert (await inventory.get_level(shop.store_id, bamboo)).held == 500


async def test_a_store_whose_scales_print_prices_sells_a_label_for_its_amount(db: str) -> None:
    shop = await open_shop()
    await Store.update({Store.label_scheme: "price_plu5"}).where(Store.id == shop.store_id)
    bamboo = await shop.add("kg", price_fen=2000, stock=5000)
    await set_plu(shop.store_id, "00042", bamboo)
    label = weight_label("00042", 1235)  # the same layout, with 12.35 yuan for the grams
    order = (await shop.order({"barcode": label})).order
    line = order.lines[0]
    # 12.35 yuan buys 617.5 g at 20.00 yuan/kg: the line takes 618 g from stock.
    assert (line.amount_fen, line.weight_g, line.unit_price_fen) == (1235, 618, 2000)
    assert (await inventory.get_level(shop.store_id, bamboo)).held == 618
    await orders.expire(order.id)
    assert (await inventory.get_level(shop.store_id, bamboo)).held == 0


async def test_a_store_whose_scales_print_weights_reads_the_same_label_as_grams(db: str) -> None:
    shop = await open_shop()
    bamboo = await shop.add("kg", price_fen=2000, stock=5000)
    await set_plu(shop.store_id, "00042", bamboo)
    order = (await shop.order({"barcode": weight_label("00042", 1235)})).order
    assert (order.lines[0].amount_fen, order.lines[0].weight_g) == (2470, 1235)


async def test_an_order_that_comes_to_nothing_is_refused_and_holds_nothing(db: str) -> None:
    shop = await open_shop()
    sprouts = await shop.add("kg", price_fen=300, stock=5000)  # 1 g is 0.3 fen: 0 fen
    with pytest.raises(InvalidInput) as refused:
        await shop.order({"product_id": sprouts, "weight_g": 1})
    assert refused.value.code == "order_total_zero"
    assert (await inventory.get_level(shop.store_id, sprouts)).held == 0
    assert await Order.count() == 0


async def test_a_barcode_is_found_by_its_gtin_and_certification_is_frozen(db: str) -> None:
    shop = await open_shop()
    gtin = make_gtin()
    expired = await shop.add(gtin=gtin, certified=False)
    order = (await shop.order({"barcode": gtin})).order
    line = order.lines[0]
    assert (line.product_id, line.quantity, line.certified) == (expired, 1, False)
    assert line.supplier_id == shop.supplier_id
    assert line.origin_county_code == "990001"


async def test_a_barcode_shared_with_an_expired_certificate_sells_the_certified_product(
    db: str,
) -> None:
    shop = await open_shop()
    gtin = make_gtin()
    await shop.add(gtin=gtin, certified=False)  # the older product, its certificate expired
    renewal = await shop.add(gtin=gtin)
    line = (await shop.order({"barcode": gtin})).order.lines[0]
    assert (line.product_id, line.certified) == (renewal, True)


async def test_each_marked_down_batch_an_order_takes_is_marked_down_by_its_own_percent(
    db: str,
) -> None:
    shop = await open_shop()
    product = await shop.add(price_fen=1000, stock=7)
    await add_batches(shop, product, (2, 20), (5, 70))  # expiring tomorrow, in 3 days
    await shop.add_markdown_rule(within_hours=24, percent=50)
    await shop.add_markdown_rule(within_hours=72, percent=20)
    order = (await shop.order({"product_id": product, "quantity": 4})).order
    # 2 pieces 50 % off (1000 fen), then 2 pieces 20 % off (400 fen)
    assert (order.subtotal_fen, order.discount_fen, order.total_fen) == (4000, 1400, 2600)


@pytest.mark.parametrize(
    ("barcode", "code"),
    [
        ("6901234567892", "barcode_unknown"),
        ("6901234567893", "barcode_check_digit"),
        ("12345", "barcode_format"),
        (weight_label("00777", 500), "barcode_unknown"),
    ],
)
async def test_a_bad_or_unknown_barcode_is_refused(db: str, barcode: str, code: str) -> None:
    shop = await open_shop()
    with pytest.raises(InvalidInput) as refused:
        await shop.order({"barcode": barcode})
    assert refused.value.code == code


async def test_a_product_the_store_does_not_sell_is_refused(db: str) -> None:
    shop, other = await open_shop(), await open_shop()
    elsewhere = await other.add()
    with pytest.raises(InvalidInput) as refused:
        await shop.order({"product_id": elsewhere, "quantity": 1})
    assert refused.value.code == "product_unknown"


async def test_a_swapped_counter_token_is_refused(db: str) -> None:
    shop, other = await open_shop(), await open_shop()
    tea = await shop.add()
    data = other.order_in({"product_id": tea, "quantity": 1})
    with pytest.raises(Forbidden) as refused:
        await checkout.create_counter_order(
            shop.counter_id, data, idempotency_key="k", secret=SECRET
        )
    assert refused.value.code == "counter_token_invalid"


async def test_a_retry_returns_the_first_order_and_creates_nothing(db: str) -> None:
    shop = await open_shop()
    tea = await shop.add(stock=10)
    first = await shop.order({"product_id": tea, "quantity": 3}, key="same")
    again = await shop.order({"product_id": tea, "quantity": 3}, key="same")
    assert first.created
    assert not again.created
    assert again.order == first.order
    assert await Order.count() == 1
    assert await OrderTransition.count() == 1
    assert (await inventory.get_level(shop.store_id, tea)).held == 3


async def test_a_retry_after_the_order_took_the_last_units_returns_it(db: str) -> None:
    shop = await open_shop()
    tea = await shop.add(stock=3)
    first = await shop.order({"product_id": tea, "quantity": 3}, key="same")
    again = await shop.order({"product_id": tea, "quantity": 3}, key="same")
    assert not again.created
    assert again.order == first.order
    assert (await inventory.get_level(shop.store_id, tea)).held == 3


async def test_a_retry_after_the_counter_closed_returns_the_order(db: str) -> None:
    # The first answer was lost; the order exists and holds its stock until it expires.
    shop = await open_shop()
    tea = await shop.add(stock=10)
    first = await shop.order({"product_id": tea, "quantity": 1}, key="same")
    await Counter.update({Counter.active: False}).where(Counter.id == shop.counter_id)
    again = await shop.order({"product_id": tea, "quantity": 1}, key="same")
    assert not again.created
    assert again.order == first.order
    with pytest.raises(NotFound) as refused:
        await shop.order({"product_id": tea, "quantity": 1}, key="another")
    assert refused.value.code == "counter_closed"


async def test_concurrent_retries_create_one_order(db: str) -> None:
    shop = await open_shop()
    tea = await shop.add(stock=100)
    results = await asyncio.gather(
        *(shop.order({"product_id": tea, "quantity": 1}, key="racing") for _ in range(10))
    )
    assert sum(result.created for result in results) == 1
    assert len({result.order.id for result in results}) == 1
    assert len({result.order.access_token for result in results}) == 1
    assert (await inventory.get_level(shop.store_id, tea)).held == 1


async def test_a_key_reused_for_another_order_is_refused(db: str) -> None:
    shop = await open_shop()
    tea = await shop.add(stock=10)
    await shop.order({"product_id": tea, "quantity": 1}, key="k1")
    with pytest.raises(Conflict) as refused:
        await shop.order({"product_id": tea, "quantity": 2}, key="k1")
    assert refused.value.code == "idempotency_key_reused"


async def test_keys_are_scoped_by_the_sender(db: str) -> None:
    shop, other = await open_shop(), await open_shop()
    here, there = await shop.add(), await other.add()
    key = uuid.uuid4().hex
    first = await shop.order({"product_id": here, "quantity": 1}, key=key)
    second = await other.order({"product_id": there, "quantity": 1}, key=key)
    assert first.created
    assert second.created
    assert first.order.id != second.order.id
