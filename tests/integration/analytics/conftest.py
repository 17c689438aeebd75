"""Analytics fixtures: sales at chosen store-local moments, refunds, and the outbox run through.

The hand-made data set (`sample`) is small enough to work every figure out by hand; the
expected numbers in the tests are derived in its docstring.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from pos.analytics import rollups
from pos.catalog.tables import County, Product, Province
from pos.events.outbox import Event
from pos.events.tables import OutboxEvent
from pos.inventory import service as inventory
from pos.orders import service as orders
from pos.orders.schemas import OrderOut
from pos.settings import Settings
from pos.stores.tables import Listing
from tests.helpers.shop import Shop, open_shop

SHANGHAI = ZoneInfo("Asia/Shanghai")


def shanghai(month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    """A moment of 2026 on Shanghai's clock."""
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


async def county(code: str) -> None:
    """A county with its province (the code's first two digits), if not there yet."""
    province = await Province.objects().get_or_create(
        Province.code == code[:2], defaults={Province.name_zh: f"省{code[:2]}"}
    )
    await County.objects().get_or_create(
        County.code == code,
        defaults={County.name_zh: f"县{code}", County.province: province.id},
    )


async def product_in(shop: Shop, county_code: str, price_fen: int, certified: bool = True) -> int:
    """A product of `shop`, grown in the county `county_code`."""
    await county(county_code)
    found = await County.select(County.id).where(County.code == county_code).first()
    assert found is not None
    product = await shop.add(price_fen=price_fen, certified=certified)
    await Product.update({Product.origin_county: found["id"]}).where(Product.id == product)
    return product


async def also_sold_at(shop: Shop, product: int) -> None:
    """List `product` at another shop too, with stock."""
    await Listing.insert(Listing(store=shop.store_id, product=product))
    await inventory.set_level(shop.store_id, product, 100)


async def sell(shop: Shop, lines: dict[int, int], *, payer: str | None, at: datetime) -> OrderOut:
    """An order of {product: pieces} at the shop's counter, paid by `payer` at `at`."""
    order = (await shop.order(*({"product_id": p, "quantity": q} for p, q in lines.items()))).order
    await orders.mark_paid(
        order.id,
        amount_fen=order.total_fen,
        method="sandbox",
        reference=uuid.uuid4().hex,
        payer_hash=payer,
        paid_at=at,
    )
    return order


async def refund(order: OrderOut, amount_fen: int) -> None:
    await orders.record_refund(order.id, amount_fen=amount_fen, restock=None)


async def run_events() -> None:
    """Hand each order event not handled yet to the rollup handler, and mark it done.

    The handler is called directly: whatever else earlier tests registered with the outbox
    (the platform's handler refuses stores without a merchant id) must not stand in the way.
    """
    events = (
        await OutboxEvent.select(
            OutboxEvent.id, OutboxEvent.kind, OutboxEvent.key, OutboxEvent.payload
        )
        .where(
            OutboxEvent.kind.is_in([orders.ORDER_PAID, orders.ORDER_REFUNDED])
            & OutboxEvent.done_at.is_null()
        )
        .order_by(OutboxEvent.id)
    )
    for row in events:
        payload = row["payload"]
        payload = json.loads(payload) if isinstance(payload, str) else payload
        await rollups.on_order_event(Event(row["id"], row["kind"], row["key"], payload, 1))
        done = {OutboxEvent.done_at: datetime.now(UTC)}
        await OutboxEvent.update(done).where(OutboxEvent.id == row["id"])


@dataclass
class Sample:
    """Stores a and b (Shanghai), products x (county 990001, certified, 10 yuan) and
    y (county 980001, not certified, 20 yuan); payers p1..p4 and one anonymous buyer.

    o1 p1 a Jan 05 10:00  x        1000
    o2 p2 a Jan 31 23:30  y        2000   (15:30 UTC: still January in Shanghai)
    o3 p1 a Feb 01 00:10  x+y      3000   (Jan 31 16:10 UTC: February in Shanghai)
    o4 p3 b Feb 10        x        1000
    o5 -- a Feb 11        y        2000   anonymous
    o7 p4 a Feb 15        x        1000   refunded in full: no purchase
    o8 p3 a Feb 20        x+y      3000   1500 refunded: x nets 500, y 1000
    o6 p2 b Mar 03        x        1000

    Ranks: p1 o1 1, o3 2; p2 o2 1, o6 2; p3 o4 1, o8 2.
    Days to the second purchase: p1 27, p2 31, p3 10.
    """

    a: Shop
    b: Shop
    x: int
    y: int
    orders: dict[str, OrderOut]


@pytest.fixture
async def sample(db: str) -> Sample:
    a, b = await open_shop(), await open_shop()
    x = await product_in(a, "990001", 1000)
    y = await product_in(a, "980001", 2000, certified=False)
    await also_sold_at(b, x)
    plan = [
        ("o1", a, {x: 1}, "p1", shanghai(1, 5, 10)),
        ("o2", a, {y: 1}, "p2", shanghai(1, 31, 23, 30)),
        ("o3", a, {x: 1, y: 1}, "p1", shanghai(2, 1, 0, 10)),
        ("o4", b, {x: 1}, "p3", shanghai(2, 10)),
        ("o5", a, {y: 1}, None, shanghai(2, 11)),
        ("o7", a, {x: 1}, "p4", shanghai(2, 15)),
        ("o8", a, {x: 1, y: 1}, "p3", shanghai(2, 20)),
        ("o6", b, {x: 1}, "p2", shanghai(3, 3)),
    ]
    made = {}
    for name, shop, lines, payer, at in plan:
        made[name] = await sell(shop, lines, payer=payer, at=at)
    await refund(made["o7"], 1000)
    await refund(made["o8"], 1000)
    await refund(made["o8"], 500)
    await run_events()
    return Sample(a, b, x, y, made)


@pytest.fixture
def settings(database_url: str) -> Settings:
    """The app without its embedded worker: tests run the rollup handler themselves."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        redis_prefix=f"pos_test_{uuid.uuid4().hex[:8]}",
        run_worker=False,
    )
