from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from pos.db import write_transaction
from pos.errors import Conflict
from pos.inventory import counts, ledger
from pos.inventory import service as inventory
from pos.inventory.ledger import Entry
from pos.inventory.schemas import MAX_STOCK_QUANTITY, CountScanIn
from pos.inventory.tables import CountSession, StockMovement
from pos.orders import service as orders
from tests.helpers.shop import open_shop
from tests.helpers.staff import login_as

from .conftest import renewed_product

pytestmark = pytest.mark.anyio


async def test_a_count_session_reports_variance_and_posts_corrections_once(db: str) -> None:
    shop = await open_shop()
    tea, sauce = await shop.add(stock=10), await shop.add(stock=4)
    session = await counts.start(shop.store_id, actor="staff:1", idempotency_key=None)
    for product, units in ((tea, 6), (tea, 2), (sauce, 4)):
        scan = CountScanIn(product_id=product, quantity=units)
        await counts.scan(shop.store_id, session.id, scan, idempotency_key=None)
    report = await counts.get_count(shop.store_id, session.id)
    assert [(line.counted, line.expected, line.variance) for line in report.lines] == [
        (8, 10, -2),
        (4, 4, 0),
    ]
    finished = await counts.finish(shop.store_id, session.id, actor="staff:1")
    assert finished.status == "finished"
    assert [line.variance for line in finished.lines] == [-2, 0]
    assert await counts.finish(shop.store_id, session.id, actor="staff:1") == finished
    assert (await inventory.get_level(shop.store_id, tea)).on_hand == 8
    rows = await StockMovement.select(StockMovement.delta).where(
        StockMovement.reference == f"count:{session.id}"
    )
    assert sorted(row["delta"] for row in rows) == [-2, 0]
    with pytest.raises(Conflict):
        await counts.scan(
            shop.store_id, session.id, CountScanIn(product_id=tea), idempotency_key=None
        )


async def test_a_retried_scan_adds_its_units_once(client: httpx.AsyncClient) -> None:
    shop = await open_shop()
    product = await shop.add(stock=10)
    await login_as(client, "restocker", shop.store_id)
    base = f"/api/stores/{shop.store_id}/inventory"
    url = f"{base}/counts/{(await client.post(f'{base}/counts')).json()['id']}"
    scan, key = {"product_id": product, "quantity": 9}, {"Idempotency-Key": "c-1"}
    first = await client.post(f"{url}/scans", json=scan, headers=key)
    retried = await client.post(f"{url}/scans", json=scan, headers=key)
    assert first.status_code == retried.status_code == 201, retried.text
    assert [line["counted"] for line in retried.json()["lines"]] == [9]
    assert (await client.post(f"{url}/scans", json=scan)).json()["lines"][0]["counted"] == 18
    await client.post(f"{url}/finish")
    assert (await inventory.get_level(shop.store_id, product)).on_hand == 18


async def test_a_scale_label_scanned_into_a_count_is_refused_naming_why(
    client: httpx.AsyncClient,
) -> None:
    shop = await open_shop()
    await login_as(client, "restocker", shop.store_id)
    base = f"/api/stores/{shop.store_id}/inventory"
    url = f"{base}/counts/{(await client.post(f'{base}/counts')).json()['id']}"
    label = "2001234005005"  # prefix 20, PLU 01234, 500 g
    refused = await client.post(f"{url}/scans", json={"barcode": label})
    assert (refused.status_code, refused.json()["code"]) == (422, "barcode_scale_label")
    assert (await client.get(url)).json()["lines"] == []


async def test_a_count_started_twice_with_one_key_opens_one_count(
    client: httpx.AsyncClient,
) -> None:
    shop = await open_shop()
    await login_as(client, "restocker", shop.store_id)
    url = f"/api/stores/{shop.store_id}/inventory/counts"
    key = {"Idempotency-Key": "count-1"}
    first = await client.post(url, headers=key)
    retried = await client.post(url, headers=key)  # a double tap, or the answer was lost
    assert first.status_code == retried.status_code == 201, retried.text
    assert retried.json() == first.json()
    assert (await client.post(url)).json()["id"] != first.json()["id"]  # no key: another count
    assert await CountSession.count().where(CountSession.store == shop.store_id) == 2


async def test_count_starts_racing_with_one_key_open_one_count(db: str) -> None:
    shop = await open_shop()
    started = await asyncio.gather(
        *(counts.start(shop.store_id, actor="staff:1", idempotency_key="c") for _ in range(5))
    )
    assert len({session.id for session in started}) == 1
    assert await CountSession.count().where(CountSession.store == shop.store_id) == 1


async def test_sales_during_a_count_come_on_top_of_it(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(stock=10)
    session = await counts.start(shop.store_id, actor="staff:1", idempotency_key=None)
    await counts.scan(
        shop.store_id, session.id, CountScanIn(product_id=product, quantity=9), idempotency_key=None
    )
    created = await shop.order({"product_id": product, "quantity": 3})
    await orders.mark_paid(
        created.order.id,
        amount_fen=created.order.total_fen,
        method="sandbox",
        reference="p1",
        payer_hash=None,
        paid_at=datetime.now(UTC),
    )
    finished = await counts.finish(shop.store_id, session.id, actor="staff:1")
    assert finished.lines[0].variance == -1
    assert (await inventory.get_level(shop.store_id, product)).on_hand == 6


async def test_a_count_scanned_before_a_later_count_changes_nothing(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(stock=10)  # counted now by the helper
    session = await counts.start(shop.store_id, actor="staff:1", idempotency_key=None)
    earlier = datetime.now(UTC) - timedelta(minutes=5)
    scan = CountScanIn(product_id=product, quantity=3, counted_at=earlier)
    await counts.scan(shop.store_id, session.id, scan, idempotency_key=None)
    await counts.finish(shop.store_id, session.id, actor="staff:1")
    assert (await inventory.get_level(shop.store_id, product)).on_hand == 10


async def test_a_count_past_what_the_level_holds_is_refused_and_stays_open(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(stock=0)
    session = await counts.start(shop.store_id, actor="staff:1", idempotency_key=None)
    scan = CountScanIn(product_id=product, quantity=MAX_STOCK_QUANTITY)
    await counts.scan(shop.store_id, session.id, scan, idempotency_key=None)
    async with write_transaction():  # after the count: it comes on top
        await ledger.move(shop.store_id, product, 10, "receipt", Entry("t", "delivery"))
    with pytest.raises(Conflict) as refused:
        await counts.finish(shop.store_id, session.id, actor="staff:1")
    assert refused.value.code == "stock_over_limit"
    assert (await counts.get_count(shop.store_id, session.id)).status == "open"
    assert (await inventory.get_level(shop.store_id, product)).on_hand == 10


async def test_scans_adding_up_past_what_a_level_holds_are_refused(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(stock=0)
    session = await counts.start(shop.store_id, actor="staff:1", idempotency_key=None)
    scan = CountScanIn(product_id=product, quantity=MAX_STOCK_QUANTITY)
    await counts.scan(shop.store_id, session.id, scan, idempotency_key=None)
    with pytest.raises(Conflict) as refused:
        await counts.scan(
            shop.store_id, session.id, CountScanIn(product_id=product), idempotency_key=None
        )
    assert refused.value.code == "stock_over_limit"
    lines = (await counts.get_count(shop.store_id, session.id)).lines
    assert [line.counted for line in lines] == [MAX_STOCK_QUANTITY]


async def test_a_shared_barcode_is_counted_as_the_product_whose_certificate_is_valid(
    db: str,
) -> None:
    shop = await open_shop()
    barcode, _, renewal = await renewed_product(shop)
    session = await counts.start(shop.store_id, actor="staff:1", idempotency_key=None)
    scanned = await counts.scan(
        shop.store_id, session.id, CountScanIn(barcode=barcode), idempotency_key=None
    )
    assert [line.product_id for line in scanned.lines] == [renewal]


async def test_a_finished_count_is_what_the_level_got(db: str) -> None:
    for _ in range(5):
        shop = await open_shop()
        product = await shop.add(stock=0)
        session = await counts.start(shop.store_id, actor="staff:1", idempotency_key=None)
        await counts.scan(
            shop.store_id, session.id, CountScanIn(product_id=product), idempotency_key=None
        )
        scans = [_scan_unless_finished(shop.store_id, session.id, product) for _ in range(10)]
        scans.insert(5, counts.finish(shop.store_id, session.id, actor="staff:1"))
        await asyncio.gather(*scans)
        final = await counts.get_count(shop.store_id, session.id)
        assert final.status == "finished"
        counted = sum(line.counted for line in final.lines)
        assert (await inventory.get_level(shop.store_id, product)).on_hand == counted


async def _scan_unless_finished(store_id: int, session_id: int, product: int) -> None:
    with contextlib.suppress(Conflict):
        await counts.scan(
            store_id, session_id, CountScanIn(product_id=product), idempotency_key=None
        )
