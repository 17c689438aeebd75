from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, date, datetime, timedelta
from typing import Any

import anyio
import httpx
import pytest

from pos.errors import Conflict, InvalidInput
from pos.inventory import ledger, notices, receiving
from pos.inventory import service as inventory
from pos.inventory.schemas import (
    MAX_STOCK_QUANTITY,
    ReceivingLineIn,
    ReceivingLineOut,
    ReceivingScanIn,
    ReceivingStartIn,
)
from pos.inventory.tables import ReceivingLine, ShipmentNotice, StockBatch, StockMovement
from tests.helpers.locks import done_or_waiting_for_a_lock
from tests.helpers.shop import Shop, make_gtin, open_shop
from tests.helpers.staff import add_store, login_as

from .conftest import (
    SupplierClient,
    certificate_of,
    renewed_product,
    store_code,
    supplier_client,
)

pytestmark = pytest.mark.anyio


async def test_receiving_a_notice_posts_its_movements_once(client: httpx.AsyncClient) -> None:
    shop = await open_shop()
    noodles, oranges = await shop.add(stock=0), await shop.add(stock=0)
    supplier = await supplier_client(shop.supplier_id)
    notice = {
        "reference": "ASN-0001",
        "store_code": await store_code(shop.store_id),
        "updated_at": "2026-06-01T08:00:00+08:00",
        "lines": [
            {
                "certificate_no": await certificate_of(noodles),
                "quantity": 10,
                "lot": "L1",
                "expires_at": "2030-01-01T00:00:00Z",
            },
            {"certificate_no": await certificate_of(oranges), "quantity": 6},
        ],
    }
    pushed = await supplier.post(client, "/shipments", notice)
    assert pushed.status_code == 200, pushed.text
    stale = await supplier.post(client, "/shipments", notice)
    assert stale.json()["stale"] is True

    await login_as(client, "restocker", shop.store_id)
    base = f"/api/stores/{shop.store_id}/inventory"
    listed = (await client.get(f"{base}/shipment-notices")).json()
    assert [n["reference"] for n in listed] == ["ASN-0001"]
    started = await client.post(
        f"{base}/receivings", json={"notice_id": listed[0]["id"]}, headers={"Idempotency-Key": "r1"}
    )
    assert started.status_code == 201, started.text
    session = started.json()
    retried = await client.post(
        f"{base}/receivings", json={"notice_id": listed[0]["id"]}, headers={"Idempotency-Key": "r1"}
    )
    assert retried.json()["id"] == session["id"]
    url = f"{base}/receivings/{session['id']}"
    await client.post(f"{url}/scans", json={"product_id": noodles, "quantity": 10})  # no lot, date
    scanned = await client.post(f"{url}/scans", json={"product_id": oranges, "quantity": 4})
    assert len(scanned.json()["lines"]) == 2  # each scan added to its product's notice line
    short = next(line for line in scanned.json()["lines"] if line["product_id"] == oranges)
    assert short["discrepancy"] == -2
    await client.put(f"{url}/lines/{short['id']}", json={"quantity": 4, "note": "2 crushed"})

    confirmations = await asyncio.gather(*(client.post(f"{url}/confirm") for _ in range(3)))
    assert {response.status_code for response in confirmations} == {200}
    assert {response.json()["status"] for response in confirmations} == {"confirmed"}
    again = await client.post(f"{url}/confirm")
    assert again.json() == confirmations[0].json()
    assert (await inventory.get_level(shop.store_id, noodles)).on_hand == 10
    assert (await inventory.get_level(shop.store_id, oranges)).on_hand == 4
    noodle_batches = await StockBatch.select(StockBatch.lot, StockBatch.expires_at).where(
        StockBatch.product == noodles
    )
    assert noodle_batches == [{"lot": "L1", "expires_at": datetime(2030, 1, 1, tzinfo=UTC)}]
    receipts = await StockMovement.select(StockMovement.reason).where(
        StockMovement.kind == "receipt"
    )
    assert sorted(row["reason"] for row in receipts) == ["2 crushed", "received"]
    assert (await client.get(f"{base}/shipment-notices")).json() == []
    scan_late = await client.post(f"{url}/scans", json={"product_id": noodles})
    assert scan_late.json()["code"] == "receiving_confirmed"


async def test_a_retried_scan_adds_its_units_once(client: httpx.AsyncClient) -> None:
    shop = await open_shop()
    product = await shop.add(stock=0)
    await login_as(client, "restocker", shop.store_id)
    base = f"/api/stores/{shop.store_id}/inventory"
    url = f"{base}/receivings/{(await client.post(f'{base}/receivings', json={})).json()['id']}"
    scan, key = {"product_id": product, "quantity": 12, "lot": "L1"}, {"Idempotency-Key": "s-1"}
    first = await client.post(f"{url}/scans", json=scan, headers=key)
    retried = await client.post(f"{url}/scans", json=scan, headers=key)
    assert first.status_code == retried.status_code == 201, retried.text
    assert retried.json() == first.json()
    assert (await client.post(f"{url}/confirm")).status_code == 200
    late = await client.post(f"{url}/scans", json=scan, headers=key)  # the answer lost again
    assert (late.status_code, late.json()["status"]) == (201, "confirmed")
    assert (await inventory.get_level(shop.store_id, product)).on_hand == 12


async def test_scans_racing_with_one_key_add_their_units_once(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(stock=0)
    session = await receiving.start(
        shop.store_id, ReceivingStartIn(), actor="staff:1", idempotency_key=None
    )
    scan = ReceivingScanIn(product_id=product, quantity=3)
    await asyncio.gather(
        *(
            receiving.scan(shop.store_id, session.id, scan, actor="staff:1", idempotency_key="s-1")
            for _ in range(10)
        )
    )
    scanned = await receiving.get_receiving(shop.store_id, session.id)
    assert [line.quantity for line in scanned.lines] == [3]


async def test_a_confirmation_racing_itself_posts_once(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(stock=0)
    session = await receiving.start(
        shop.store_id, ReceivingStartIn(), actor="staff:1", idempotency_key=None
    )
    await receiving.scan(
        shop.store_id,
        session.id,
        ReceivingScanIn(product_id=product, quantity=7),
        actor="staff:1",
        idempotency_key=None,
    )
    await asyncio.gather(
        *(receiving.confirm(shop.store_id, session.id, actor="staff:1") for _ in range(10))
    )
    assert (await inventory.get_level(shop.store_id, product)).on_hand == 7
    assert await StockMovement.count().where(StockMovement.kind == "receipt") == 1


async def test_a_receiving_past_what_the_level_holds_is_refused_and_stays_open(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(stock=10)
    session = await receiving.start(
        shop.store_id, ReceivingStartIn(), actor="staff:1", idempotency_key=None
    )
    scan = ReceivingScanIn(product_id=product, quantity=MAX_STOCK_QUANTITY)
    await receiving.scan(shop.store_id, session.id, scan, actor="staff:1", idempotency_key=None)
    with pytest.raises(Conflict) as refused:
        await receiving.confirm(shop.store_id, session.id, actor="staff:1")
    assert refused.value.code == "stock_over_limit"
    assert (await receiving.get_receiving(shop.store_id, session.id)).status == "open"
    assert (await inventory.get_level(shop.store_id, product)).on_hand == 10
    assert await StockBatch.count() == 0


async def test_scans_adding_up_past_what_a_level_holds_are_refused(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(stock=0)
    session = await receiving.start(
        shop.store_id, ReceivingStartIn(), actor="staff:1", idempotency_key=None
    )
    scan = ReceivingScanIn(product_id=product, quantity=MAX_STOCK_QUANTITY)
    await receiving.scan(shop.store_id, session.id, scan, actor="staff:1", idempotency_key=None)
    with pytest.raises(Conflict) as refused:
        await receiving.scan(
            shop.store_id,
            session.id,
            ReceivingScanIn(product_id=product),
            actor="staff:1",
            idempotency_key=None,
        )
    assert refused.value.code == "stock_over_limit"
    lines = (await receiving.get_receiving(shop.store_id, session.id)).lines
    assert [line.quantity for line in lines] == [MAX_STOCK_QUANTITY]


async def test_a_shared_barcode_is_received_as_the_product_whose_certificate_is_valid(
    db: str,
) -> None:
    shop = await open_shop()
    barcode, _, renewal = await renewed_product(shop)
    session = await receiving.start(
        shop.store_id, ReceivingStartIn(), actor="staff:1", idempotency_key=None
    )
    scanned = await receiving.scan(
        shop.store_id,
        session.id,
        ReceivingScanIn(barcode=barcode),
        actor="staff:1",
        idempotency_key=None,
    )
    assert [line.product_id for line in scanned.lines] == [renewal]


async def test_a_barcode_two_valid_products_share_is_refused_asking_for_a_product_id(
    client: httpx.AsyncClient,
) -> None:
    shop = await open_shop()
    barcode = make_gtin()
    first, second = await shop.add(gtin=barcode), await shop.add(gtin=barcode)
    await login_as(client, "restocker", shop.store_id)
    base = f"/api/stores/{shop.store_id}/inventory/receivings"
    session = (await client.post(base, json={})).json()
    refused = await client.post(f"{base}/{session['id']}/scans", json={"barcode": barcode})
    assert (refused.status_code, refused.json()["code"]) == (409, "barcode_ambiguous")
    assert refused.json()["product_ids"] == [first, second]
    assert "product id" in refused.json()["detail"]


async def test_a_scale_label_scanned_into_a_receiving_is_refused_naming_why(
    client: httpx.AsyncClient,
) -> None:
    shop = await open_shop()
    await login_as(client, "restocker", shop.store_id)
    base = f"/api/stores/{shop.store_id}/inventory/receivings"
    session = (await client.post(base, json={})).json()
    label = "2001234005005"  # prefix 20, PLU 01234, 500 g
    refused = await client.post(f"{base}/{session['id']}/scans", json={"barcode": label})
    assert (refused.status_code, refused.json()["code"]) == (422, "barcode_scale_label")
    assert "scale label" in refused.json()["detail"]
    assert (await client.get(f"{base}/{session['id']}")).json()["lines"] == []


async def test_a_batch_past_its_expiry_is_not_received(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(stock=0)
    session = await receiving.start(
        shop.store_id, ReceivingStartIn(), actor="staff:1", idempotency_key=None
    )
    expired = ReceivingScanIn(
        product_id=product, quantity=5, expires_at=datetime(2024, 1, 1, tzinfo=UTC)
    )
    with pytest.raises(InvalidInput) as refused:
        await receiving.scan(
            shop.store_id, session.id, expired, actor="staff:1", idempotency_key=None
        )
    assert refused.value.code == "receiving_expired"
    assert (await receiving.get_receiving(shop.store_id, session.id)).lines == []


async def test_goods_on_a_notice_line_past_its_expiry_are_not_received(
    client: httpx.AsyncClient,
) -> None:
    shop = await open_shop()
    product = await shop.add(stock=0)
    supplier = await supplier_client(shop.supplier_id)
    notice = {
        "reference": "ASN-EXPIRED",
        "store_code": await store_code(shop.store_id),
        "updated_at": "2026-06-01T08:00:00+08:00",
        "lines": [
            {
                "certificate_no": await certificate_of(product),
                "quantity": 4,
                "expires_at": "2024-01-01T00:00:00Z",
            }
        ],
    }
    notice_id = (await supplier.post(client, "/shipments", notice)).json()["id"]
    session = await receiving.start(
        shop.store_id, ReceivingStartIn(notice_id=notice_id), actor="staff:1", idempotency_key=None
    )
    with pytest.raises(InvalidInput) as refused:
        await receiving.scan(
            shop.store_id,
            session.id,
            ReceivingScanIn(product_id=product),
            actor="staff:1",
            idempotency_key=None,
        )
    assert refused.value.code == "receiving_expired"
    [line] = (await receiving.get_receiving(shop.store_id, session.id)).lines
    with pytest.raises(InvalidInput) as confirmed_anyway:
        await receiving.set_line(
            shop.store_id, session.id, line.id, ReceivingLineIn(quantity=4), actor="staff:1"
        )
    assert confirmed_anyway.value.code == "receiving_expired"
    declined = ReceivingLineIn(quantity=0, note="past its expiry: sent back")
    await receiving.set_line(shop.store_id, session.id, line.id, declined, actor="staff:1")
    await receiving.confirm(shop.store_id, session.id, actor="staff:1")
    assert (await inventory.get_level(shop.store_id, product)).on_hand == 0


async def test_every_unit_scanned_into_a_confirmed_receiving_is_on_the_shelf(db: str) -> None:
    for _ in range(5):
        shop = await open_shop()
        product = await shop.add(stock=0)
        session = await receiving.start(
            shop.store_id, ReceivingStartIn(), actor="staff:1", idempotency_key=None
        )
        await receiving.scan(
            shop.store_id,
            session.id,
            ReceivingScanIn(product_id=product),
            actor="staff:1",
            idempotency_key=None,
        )
        scans = [_scan_unless_confirmed(shop.store_id, session.id, product) for _ in range(10)]
        scans.insert(5, receiving.confirm(shop.store_id, session.id, actor="staff:1"))
        await asyncio.gather(*scans)
        final = await receiving.get_receiving(shop.store_id, session.id)
        scanned = sum(line.quantity for line in final.lines)
        assert (await inventory.get_level(shop.store_id, product)).on_hand == scanned


async def _scan_unless_confirmed(store_id: int, session_id: int, product: int) -> None:
    with contextlib.suppress(Conflict):
        await receiving.scan(
            store_id,
            session_id,
            ReceivingScanIn(product_id=product),
            actor="staff:1",
            idempotency_key=None,
        )


async def _announce(
    supplier: SupplierClient, client: httpx.AsyncClient, store_id: int, product: int
) -> dict[str, object]:
    """A shipment notice of 5 units of `product` for the store."""
    notice = {
        "reference": "ASN-ONCE",
        "store_code": await store_code(store_id),
        "updated_at": "2026-06-01T08:00:00+08:00",
        "lines": [{"certificate_no": await certificate_of(product), "quantity": 5}],
    }
    assert (await supplier.post(client, "/shipments", notice)).status_code == 200
    return notice


async def _receiving(client: httpx.AsyncClient, store_id: int, product: int) -> str:
    """A receiving of the store's open notice with its 5 units scanned: its URL."""
    base = f"/api/stores/{store_id}/inventory"
    notice_id = (await client.get(f"{base}/shipment-notices")).json()[0]["id"]
    session = (await client.post(f"{base}/receivings", json={"notice_id": notice_id})).json()
    url = f"{base}/receivings/{session['id']}"
    await client.post(f"{url}/scans", json={"product_id": product, "quantity": 5})
    return url


async def test_a_notice_is_received_once_however_many_receivings_were_opened(
    client: httpx.AsyncClient,
) -> None:
    shop = await open_shop()
    product = await shop.add(stock=0)
    await _announce(await supplier_client(shop.supplier_id), client, shop.store_id, product)
    await login_as(client, "restocker", shop.store_id)
    first = await _receiving(client, shop.store_id, product)
    second = await _receiving(client, shop.store_id, product)  # another tablet, another key
    assert (await client.post(f"{first}/confirm")).status_code == 200
    late = await client.post(f"{second}/confirm")
    assert (late.status_code, late.json()["code"]) == (409, "notice_not_open")
    assert (await inventory.get_level(shop.store_id, product)).on_hand == 5


async def test_a_notice_moved_to_another_store_is_not_received_here(
    client: httpx.AsyncClient,
) -> None:
    shop = await open_shop()
    product = await shop.add(stock=0)
    other_store = await add_store()
    supplier = await supplier_client(shop.supplier_id)
    notice = await _announce(supplier, client, shop.store_id, product)
    await login_as(client, "restocker", shop.store_id)
    receiving_url = await _receiving(client, shop.store_id, product)
    moved = {
        **notice,
        "store_code": await store_code(other_store),
        "updated_at": "2026-06-01T09:00:00+08:00",
    }
    assert (await supplier.post(client, "/shipments", moved)).status_code == 200
    refused = await client.post(f"{receiving_url}/confirm")
    assert (refused.status_code, refused.json()["code"]) == (409, "notice_not_open")
    assert (await inventory.get_level(shop.store_id, product)).on_hand == 0
    notices = await ShipmentNotice.select(ShipmentNotice.store, ShipmentNotice.status)
    assert notices == [{"store": other_store, "status": "open"}]


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_newer_version_pushed_while_its_notice_is_received_is_refused(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = await open_shop()
    product = await shop.add(stock=0)
    supplier = await supplier_client(shop.supplier_id)
    notice = await _announce(supplier, client, shop.store_id, product)
    await login_as(client, "restocker", shop.store_id)
    receiving_url = await _receiving(client, shop.store_id, product)
    posting, go_on, pushed = anyio.Event(), anyio.Event(), anyio.Event()
    answers: list[httpx.Response] = []
    move = ledger.move

    async def wait_while_posting(*args: Any, **kwargs: Any) -> Any:
        posting.set()  # the receiving has marked the notice received by now
        await go_on.wait()
        return await move(*args, **kwargs)

    async def push_newer() -> None:
        newer = {**notice, "updated_at": "2026-06-01T09:00:00+08:00"}
        newer["lines"] = [{"certificate_no": await certificate_of(product), "quantity": 7}]
        answers.append(await supplier.post(client, "/shipments", newer))
        pushed.set()

    monkeypatch.setattr(ledger, "move", wait_while_posting)
    async with anyio.create_task_group() as group:
        group.start_soon(client.post, f"{receiving_url}/confirm")
        await posting.wait()
        group.start_soon(push_newer)
        await done_or_waiting_for_a_lock(pushed.is_set)  # it runs now, or waits for the receiving
        go_on.set()
    assert (answers[0].status_code, answers[0].json()["code"]) == (409, "notice_received")
    [received] = await notices.store_notices(shop.store_id, status="received")
    assert [line.quantity for line in received.lines] == [5]


async def test_a_batch_that_expired_while_its_receiving_was_open_is_not_posted(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(stock=0)
    session = await receiving.start(
        shop.store_id, ReceivingStartIn(), actor="staff:1", idempotency_key=None
    )
    soon = datetime.now(UTC) + timedelta(hours=1)
    scan = ReceivingScanIn(product_id=product, quantity=5, lot="L1", expires_at=soon)
    [line] = (
        await receiving.scan(shop.store_id, session.id, scan, actor="staff:1", idempotency_key=None)
    ).lines
    expired_at = datetime.now(UTC) - timedelta(minutes=1)  # the session sat open for hours
    await ReceivingLine.update({ReceivingLine.expires_at: expired_at}).where(
        ReceivingLine.id == line.id
    )

    with pytest.raises(InvalidInput) as refused:
        await receiving.confirm(shop.store_id, session.id, actor="staff:1")

    assert refused.value.code == "receiving_expired"
    assert refused.value.extra == {"product_id": product, "expires_at": expired_at.isoformat()}
    assert (await receiving.get_receiving(shop.store_id, session.id)).status == "open"
    assert (await inventory.get_level(shop.store_id, product)).on_hand == 0
    assert await StockBatch.count() == 0
    declined = ReceivingLineIn(quantity=0, note="expired while we received: sent back")
    await receiving.set_line(shop.store_id, session.id, line.id, declined, actor="staff:2")
    confirmed = await receiving.confirm(shop.store_id, session.id, actor="staff:1")
    assert confirmed.status == "confirmed"
    assert await StockMovement.count().where(StockMovement.kind == "receipt") == 0


async def test_a_receiving_refused_for_an_expired_batch_answers_422_with_its_product(
    client: httpx.AsyncClient,
) -> None:
    shop = await open_shop()
    product = await shop.add(stock=0)
    await login_as(client, "restocker", shop.store_id)
    base = f"/api/stores/{shop.store_id}/inventory/receivings"
    url = f"{base}/{(await client.post(base, json={})).json()['id']}"
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    await client.post(f"{url}/scans", json={"product_id": product, "expires_at": soon})
    await ReceivingLine.update(
        {ReceivingLine.expires_at: datetime(2024, 1, 1, tzinfo=UTC)}, force=True
    )

    refused = await client.post(f"{url}/confirm")

    assert (refused.status_code, refused.json()["code"]) == (422, "receiving_expired")
    assert refused.json()["product_id"] == product
    assert refused.json()["expires_at"] == "2024-01-01T00:00:00+00:00"
    assert (await client.get(url)).json()["status"] == "open"


async def test_each_line_names_who_scanned_or_set_it_last_and_when(db: str) -> None:
    shop = await open_shop()
    noodles, oranges = await shop.add(stock=0), await shop.add(stock=0)
    session = await receiving.start(
        shop.store_id, ReceivingStartIn(), actor="staff:1", idempotency_key=None
    )
    before = datetime.now(UTC)
    for product, actor in ((noodles, "staff:2"), (oranges, "staff:3"), (noodles, "staff:3")):
        scan = ReceivingScanIn(product_id=product, quantity=2)
        await receiving.scan(shop.store_id, session.id, scan, actor=actor, idempotency_key=None)
    lines = (await receiving.get_receiving(shop.store_id, session.id)).lines
    assert [(line.product_id, line.scanned_by) for line in lines] == [
        (noodles, "staff:3"),
        (oranges, "staff:3"),
    ]
    set_to = ReceivingLineIn(quantity=1, note="1 crushed")
    await receiving.set_line(shop.store_id, session.id, lines[1].id, set_to, actor="staff:4")
    lines = (await receiving.get_receiving(shop.store_id, session.id)).lines
    assert [line.scanned_by for line in lines] == ["staff:3", "staff:4"]
    assert all(line.scanned_at is not None and line.scanned_at >= before for line in lines)
    assert lines[1].scanned_at >= lines[0].scanned_at  # type: ignore[operator]


async def test_a_scan_refused_names_no_one_on_the_line(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(stock=0)
    session = await receiving.start(
        shop.store_id, ReceivingStartIn(), actor="staff:1", idempotency_key=None
    )
    scan = ReceivingScanIn(product_id=product, quantity=MAX_STOCK_QUANTITY)
    await receiving.scan(shop.store_id, session.id, scan, actor="staff:2", idempotency_key=None)
    more = ReceivingScanIn(product_id=product)
    with pytest.raises(Conflict):
        await receiving.scan(shop.store_id, session.id, more, actor="staff:3", idempotency_key=None)
    [line] = (await receiving.get_receiving(shop.store_id, session.id)).lines
    assert line.scanned_by == "staff:2"


async def test_the_api_names_the_staff_who_scanned_and_set_each_line(
    client: httpx.AsyncClient,
) -> None:
    shop = await open_shop()
    product = await shop.add(stock=0)
    supplier = await supplier_client(shop.supplier_id)
    await _announce(supplier, client, shop.store_id, product)
    first = await login_as(client, "restocker", shop.store_id)
    base = f"/api/stores/{shop.store_id}/inventory"
    notice_id = (await client.get(f"{base}/shipment-notices")).json()[0]["id"]
    session = (await client.post(f"{base}/receivings", json={"notice_id": notice_id})).json()
    [announced] = session["lines"]
    assert (announced["scanned_by"], announced["scanned_at"]) == ("", None)  # nobody yet
    url = f"{base}/receivings/{session['id']}"
    scanned = await client.post(f"{url}/scans", json={"product_id": product, "quantity": 4})
    assert scanned.json()["lines"][0]["scanned_by"] == first.name
    second = await login_as(client, "restocker", shop.store_id)
    line_url = f"{url}/lines/{announced['id']}"
    changed = await client.put(line_url, json={"quantity": 5, "note": "recounted"})
    assert changed.status_code == 200, changed.text
    [line] = changed.json()["lines"]
    assert (line["quantity"], line["scanned_by"]) == (5, second.name)
    assert line["scanned_at"] is not None


async def _push_version(
    supplier: SupplierClient,
    client: httpx.AsyncClient,
    store_id: int,
    updated_at: str,
    lines: list[tuple[int, int]],
) -> int:
    """Version `updated_at` of the notice ASN-V of the products' quantities: its id."""
    notice = {
        "reference": "ASN-V",
        "store_code": await store_code(store_id),
        "updated_at": updated_at,
        "lines": [
            {
                "certificate_no": await certificate_of(product),
                "quantity": quantity,
                "lot": "L1",
                "expires_at": "2030-01-01T08:00:00+08:00",
            }
            for product, quantity in lines
        ],
    }
    pushed = await supplier.post(client, "/shipments", notice)
    assert pushed.status_code == 200, pushed.text
    return int(pushed.json()["id"])


async def test_a_newer_notice_version_updates_what_an_open_receiving_expects(
    client: httpx.AsyncClient,
) -> None:
    shop = await open_shop()
    kept, dropped, scanned_dropped, added = [await shop.add(stock=0) for _ in range(4)]
    supplier = await supplier_client(shop.supplier_id)
    first = [(kept, 10), (dropped, 3), (scanned_dropped, 2)]
    notice_id = await _push_version(supplier, client, shop.store_id, "2026-06-01T08:00:00Z", first)
    session = await receiving.start(
        shop.store_id, ReceivingStartIn(notice_id=notice_id), actor="staff:1", idempotency_key=None
    )
    for product in (kept, scanned_dropped):
        scan = ReceivingScanIn(product_id=product, quantity=2)
        await receiving.scan(shop.store_id, session.id, scan, actor="staff:2", idempotency_key=None)

    newer = [(kept, 8), (added, 6)]
    await _push_version(supplier, client, shop.store_id, "2026-06-01T09:00:00Z", newer)

    lines = (await receiving.get_receiving(shop.store_id, session.id)).lines
    assert [(line.product_id, line.expected, line.quantity) for line in lines] == [
        (kept, 8, 2),  # what was scanned stays; the supplier now says 8
        (scanned_dropped, None, 2),  # scanned, but no longer on the notice
        (added, 6, 0),
    ]
    assert (lines[2].lot, lines[2].expires_at) == ("L1", datetime(2030, 1, 1, tzinfo=UTC))
    confirmed = await receiving.confirm(shop.store_id, session.id, actor="staff:1")
    assert confirmed.status == "confirmed"
    assert (await inventory.get_level(shop.store_id, kept)).on_hand == 2


async def test_a_stale_notice_version_changes_no_open_receiving(
    client: httpx.AsyncClient,
) -> None:
    shop = await open_shop()
    product = await shop.add(stock=0)
    supplier = await supplier_client(shop.supplier_id)
    newer = "2026-06-01T09:00:00Z"
    notice_id = await _push_version(supplier, client, shop.store_id, newer, [(product, 10)])
    session = await receiving.start(
        shop.store_id, ReceivingStartIn(notice_id=notice_id), actor="staff:1", idempotency_key=None
    )
    older = "2026-06-01T08:00:00Z"
    await _push_version(supplier, client, shop.store_id, older, [(product, 4)])
    lines = (await receiving.get_receiving(shop.store_id, session.id)).lines
    assert [(line.product_id, line.expected) for line in lines] == [(product, 10)]


async def _typo_notice(client: httpx.AsyncClient, shop: Shop, product: int) -> int:
    """A notice of 4 units of `product` whose expiry the supplier typed a year early: its id."""
    notice = {
        "reference": "ASN-TYPO",
        "store_code": await store_code(shop.store_id),
        "updated_at": "2026-06-01T08:00:00+08:00",
        "lines": [
            {
                "certificate_no": await certificate_of(product),
                "quantity": 4,
                "lot": "L7",
                "expires_at": "2025-03-01T00:00:00+08:00",  # meant 2027
            }
        ],
    }
    supplier = await supplier_client(shop.supplier_id)
    pushed = await supplier.post(client, "/shipments", notice)
    assert pushed.status_code == 200, pushed.text
    return int(pushed.json()["id"])


async def test_a_line_s_expiry_corrected_lets_its_goods_be_received(
    client: httpx.AsyncClient,
) -> None:
    shop = await open_shop()
    product = await shop.add(stock=0)
    notice_id = await _typo_notice(client, shop, product)
    staff = await login_as(client, "restocker", shop.store_id)
    base = f"/api/stores/{shop.store_id}/inventory/receivings"
    session = (await client.post(base, json={"notice_id": notice_id})).json()
    url, [line] = f"{base}/{session['id']}", session["lines"]
    scanned = await client.post(f"{url}/scans", json={"product_id": product, "quantity": 4})
    assert scanned.json()["code"] == "receiving_expired"

    corrected = {
        "quantity": 4,
        "note": "date misprinted",
        "expires_at": "2027-03-01T00:00:00+08:00",
    }
    answer = await client.put(f"{url}/lines/{line['id']}", json=corrected)

    assert answer.status_code == 200, answer.text
    [line] = answer.json()["lines"]
    assert (line["quantity"], line["lot"], line["expires_at"]) == (4, "L7", "2027-02-28T16:00:00Z")
    assert line["note"] == "date misprinted; corrected from expires_at 2025-02-28T16:00:00+00:00"
    assert line["scanned_by"] == staff.name
    assert (await client.post(f"{url}/confirm")).status_code == 200
    batches = await StockBatch.select(StockBatch.lot, StockBatch.expires_at)
    assert batches == [{"lot": "L7", "expires_at": datetime(2027, 2, 28, 16, tzinfo=UTC)}]
    [receipt] = await StockMovement.select(StockMovement.reason, StockMovement.actor).where(
        StockMovement.kind == "receipt"
    )
    assert receipt == {"reason": line["note"], "actor": staff.name}


async def test_a_line_corrected_to_a_date_still_past_is_refused_and_kept(
    client: httpx.AsyncClient,
) -> None:
    shop = await open_shop()
    product = await shop.add(stock=0)
    notice_id = await _typo_notice(client, shop, product)
    await login_as(client, "restocker", shop.store_id)
    base = f"/api/stores/{shop.store_id}/inventory/receivings"
    session = (await client.post(base, json={"notice_id": notice_id})).json()
    line_url = f"{base}/{session['id']}/lines/{session['lines'][0]['id']}"

    still_past = {"quantity": 4, "expires_at": "2026-03-01T00:00:00+08:00"}
    refused = await client.put(line_url, json=still_past)

    assert (refused.status_code, refused.json()["code"]) == (422, "receiving_expired")
    assert refused.json()["expires_at"] == "2026-02-28T16:00:00+00:00"
    assert (await client.get(f"{base}/{session['id']}")).json()["lines"] == session["lines"]


async def _received_lines(
    *scans: ReceivingScanIn,
) -> tuple[int, int, list[ReceivingLineOut]]:
    """A blank receiving with `scans` scanned: its store, its id and its lines."""
    shop = await open_shop()
    session = await receiving.start(
        shop.store_id, ReceivingStartIn(), actor="staff:1", idempotency_key=None
    )
    for scan in scans:
        await receiving.scan(shop.store_id, session.id, scan, actor="staff:2", idempotency_key=None)
    return (
        shop.store_id,
        session.id,
        (await receiving.get_receiving(shop.store_id, session.id)).lines,
    )


async def test_a_line_s_batch_facts_left_out_are_kept_and_an_empty_lot_clears_its_lot(
    db: str,
) -> None:
    product = await (await open_shop()).add(stock=0)
    expiry = datetime(2030, 1, 1, tzinfo=UTC)
    scan = ReceivingScanIn(
        product_id=product, quantity=3, lot="L1", produced_on=date(2026, 11, 1), expires_at=expiry
    )
    store_id, session_id, [line] = await _received_lines(scan)

    kept = await receiving.set_line(
        store_id, session_id, line.id, ReceivingLineIn(quantity=3, note="ok"), actor="staff:3"
    )
    cleared = await receiving.set_line(
        store_id, session_id, line.id, ReceivingLineIn(quantity=3, lot=""), actor="staff:3"
    )

    assert (kept.lines[0].lot, kept.lines[0].note) == ("L1", "ok")  # nothing corrected
    [after] = cleared.lines
    assert (after.lot, after.produced_on, after.expires_at) == ("", date(2026, 11, 1), expiry)
    assert after.note == "corrected from lot L1"


async def test_a_line_corrected_into_another_line_s_batch_takes_its_units_in(db: str) -> None:
    product = await (await open_shop()).add(stock=0)
    expiry = datetime(2027, 3, 1, tzinfo=UTC)
    store_id, session_id, [first, second] = await _received_lines(
        ReceivingScanIn(product_id=product, quantity=5, lot="L1", expires_at=expiry),
        ReceivingScanIn(product_id=product, quantity=2, lot="L2", expires_at=expiry),
    )
    await ReceivingLine.update({ReceivingLine.expected: 6}).where(ReceivingLine.id == second.id)

    misread = ReceivingLineIn(quantity=2, note="lot misread", lot="L1")
    merged = await receiving.set_line(store_id, session_id, second.id, misread, actor="staff:3")

    [line] = merged.lines  # one batch, one line
    assert (line.id, line.lot, line.expires_at) == (second.id, "L1", expiry)
    assert (line.quantity, line.expected, line.scanned_by) == (7, 6, "staff:3")
    assert line.note == (
        f"lot misread; corrected from lot L2; took in line {first.id}: 5 scanned by staff:2"
    )
    await receiving.confirm(store_id, session_id, actor="staff:1")
    assert await StockBatch.select(StockBatch.lot, StockBatch.received_qty) == [
        {"lot": "L1", "received_qty": 7}
    ]


async def test_a_correction_merging_lines_past_what_a_level_holds_is_refused(db: str) -> None:
    product = await (await open_shop()).add(stock=0)
    store_id, session_id, lines = await _received_lines(
        ReceivingScanIn(product_id=product, quantity=MAX_STOCK_QUANTITY, lot="L1"),
        ReceivingScanIn(product_id=product, quantity=1, lot="L2"),
    )

    with pytest.raises(Conflict) as refused:
        await receiving.set_line(
            store_id, session_id, lines[1].id, ReceivingLineIn(quantity=1, lot="L1"), actor="s:3"
        )

    assert refused.value.code == "stock_over_limit"
    assert (await receiving.get_receiving(store_id, session_id)).lines == lines


async def test_a_note_too_long_to_keep_a_correction_s_record_is_refused(db: str) -> None:
    product = await (await open_shop()).add(stock=0)
    scan = ReceivingScanIn(product_id=product, quantity=1, lot="L1")
    store_id, session_id, [line] = await _received_lines(scan)

    long_note = ReceivingLineIn(quantity=1, note="x" * 255, lot="L2")
    with pytest.raises(InvalidInput) as refused:
        await receiving.set_line(store_id, session_id, line.id, long_note, actor="staff:3")

    assert refused.value.code == "receiving_note_too_long"
    assert (await receiving.get_receiving(store_id, session_id)).lines == [line]


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_receiving_started_as_a_newer_notice_version_lands_expects_that_version(
    client: httpx.AsyncClient,
) -> None:
    shop = await open_shop()
    product = await shop.add(stock=0)
    supplier = await supplier_client(shop.supplier_id)
    certificate = await certificate_of(product)

    async def push(reference: str, hour: int, quantity: int) -> int:
        notice = {
            "reference": reference,
            "store_code": await store_code(shop.store_id),
            "updated_at": f"2026-06-01T{hour:02}:00:00Z",
            "lines": [{"certificate_no": certificate, "quantity": quantity}],
        }
        pushed = await supplier.post(client, "/shipments", notice)
        assert pushed.status_code == 200, pushed.text
        return int(pushed.json()["id"])

    async def start_after(notice_id: int, delay: float) -> int:
        await asyncio.sleep(delay)
        started = await receiving.start(
            shop.store_id, ReceivingStartIn(notice_id=notice_id), actor="s:1", idempotency_key=None
        )
        return started.id

    for attempt in range(40):
        reference = f"ASN-RACE-{attempt}"
        notice_id = await push(reference, 8, 5)
        session_id, _ = await asyncio.gather(
            start_after(notice_id, attempt % 10 * 0.003), push(reference, 9, 7)
        )
        lines = (await receiving.get_receiving(shop.store_id, session_id)).lines
        assert [(line.product_id, line.expected) for line in lines] == [(product, 7)], attempt
