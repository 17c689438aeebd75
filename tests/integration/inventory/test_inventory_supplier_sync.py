from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime

import anyio
import httpx
import pytest

from pos.errors import InvalidInput
from pos.events import outbox
from pos.events.outbox import Event
from pos.events.tables import OutboxEvent
from pos.inventory import feeds
from pos.inventory.sync_schemas import FeedIn
from pos.inventory.tables import SupplierFeed, SupplierStock
from tests.helpers.shop import open_shop
from tests.helpers.staff import add_supplier, login_as

from .conftest import FeedServer, certificate_of, supplier_client

pytestmark = pytest.mark.anyio

T1, T2, T3 = "2026-06-01T08:00:00+08:00", "2026-06-01T09:00:00+08:00", "2026-06-01T10:00:00+08:00"
PAST_THE_END = "9999-12-31T23:00:00-05:00"  # its UTC time is past what a datetime holds


async def _available() -> dict[int, int]:
    rows = await SupplierStock.select(SupplierStock.product, SupplierStock.available)
    return {row["product"]: row["available"] for row in rows}


async def test_pushed_updates_resolve_out_of_order_by_the_suppliers_time(
    client: httpx.AsyncClient,
) -> None:
    shop = await open_shop()
    product = await shop.add()
    cert = await certificate_of(product)
    supplier = await supplier_client(shop.supplier_id)

    def push(available: int, at: str) -> dict[str, object]:
        return {"updates": [{"certificate_no": cert, "available": available, "updated_at": at}]}

    newer = await supplier.post(client, "/stock", push(80, T2))
    assert newer.json() == {"received": 1, "applied": 1, "stale": 0}
    late = await supplier.post(client, "/stock", push(500, T1))
    assert late.json() == {"received": 1, "applied": 0, "stale": 1}
    again = await supplier.post(client, "/stock", push(80, T2))
    assert again.json()["applied"] == 0
    assert await _available() == {product: 80}
    assert (await supplier.post(client, "/stock", push(60, T3))).json()["applied"] == 1
    assert await _available() == {product: 60}


async def test_a_malformed_push_is_refused_whole_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    shop = await open_shop()
    first, second = await shop.add(), await shop.add()
    certs = [await certificate_of(first), await certificate_of(second)]
    stranger = await open_shop()
    foreign = await certificate_of(await stranger.add())
    supplier = await supplier_client(shop.supplier_id)
    body = {
        "updates": [
            {"certificate_no": certs[0], "available": 10, "updated_at": T1},
            {"certificate_no": certs[1], "available": 5, "updated_at": T1},
            {"certificate_no": foreign, "available": 1, "updated_at": T1},
        ]
    }
    refused = await supplier.post(client, "/stock", body)
    assert refused.status_code == 422
    assert refused.json()["code"] == "supplier_update_invalid"
    assert [e["line"] for e in refused.json()["errors"]] == [3]
    body["updates"][2] = {"certificate_no": certs[1], "available": -1, "updated_at": T1}
    negative = await supplier.post(client, "/stock", body)
    assert [e["line"] for e in negative.json()["errors"]] == [3]
    assert await _available() == {}


async def test_a_product_pushed_twice_at_one_time_with_two_levels_is_refused_naming_both(
    client: httpx.AsyncClient,
) -> None:
    shop = await open_shop()
    cert = await certificate_of(await shop.add())
    supplier = await supplier_client(shop.supplier_id)
    body = {
        "updates": [
            {"certificate_no": cert, "available": 10, "updated_at": T1},
            {"certificate_no": cert, "available": 10, "updated_at": T1},
            {"certificate_no": cert, "available": 3, "updated_at": T1},
        ]
    }
    refused = await supplier.post(client, "/stock", body)
    assert (refused.status_code, refused.json()["code"]) == (422, "supplier_update_invalid")
    assert [e["line"] for e in refused.json()["errors"]] == [3]
    assert "line 1" in refused.json()["errors"][0]["reason"]
    assert await _available() == {}
    body["updates"].pop()  # the same level twice says one thing
    assert (await supplier.post(client, "/stock", body)).json()["applied"] == 1


async def test_a_pushed_time_past_datetimes_range_is_refused_whole_naming_its_line(
    client: httpx.AsyncClient,
) -> None:
    shop = await open_shop()
    cert = await certificate_of(await shop.add())
    supplier = await supplier_client(shop.supplier_id)
    body = {"updates": [{"certificate_no": cert, "available": 7, "updated_at": PAST_THE_END}]}
    refused = await supplier.post(client, "/stock", body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "supplier_update_invalid"
    assert [e["line"] for e in refused.json()["errors"]] == [1]
    assert await _available() == {}


async def test_an_unsigned_or_forged_push_is_refused(client: httpx.AsyncClient) -> None:
    shop = await open_shop()
    supplier = await supplier_client(shop.supplier_id)
    body = b'{"updates": []}'
    unsigned = await client.post(
        f"/api/suppliers/{shop.supplier_id}/stock",
        content=body,
        headers={"X-Api-Key": supplier.api_key},
    )
    assert unsigned.status_code == 401
    supplier.signing_secret = "not-the-secret"
    forged = await supplier.post(client, "/stock", body)
    assert (forged.status_code, forged.json()["code"]) == (401, "signature_invalid")
    garbled = await client.post(
        f"/api/suppliers/{shop.supplier_id}/stock",
        content=body,
        headers={
            "X-Api-Key": supplier.api_key.encode(),
            "X-Pos-Timestamp": str(int(datetime.now(UTC).timestamp())).encode(),
            "X-Pos-Signature": b"\xe9" * 64,  # not ASCII: a 401 still, not a 500
        },
    )
    assert (garbled.status_code, garbled.json()["code"]) == (401, "signature_invalid")


async def test_a_pulled_feed_applies_and_a_malformed_one_leaves_stock_as_it_was(
    db: str, feed_server: FeedServer
) -> None:
    shop = await open_shop()
    product = await shop.add()
    cert = await certificate_of(product)
    feed_server.documents["/stock.csv"] = (
        f"certificate_no,available,updated_at\n{cert},42,{T1}\n".encode()
    )
    url = f"{feed_server.base}/stock.csv"
    await feeds.set_feed(shop.supplier_id, FeedIn.model_validate({"url": url, "format": "csv"}))
    assert (await feeds.pull_feed(shop.supplier_id)).applied == 1
    assert (await feeds.pull_feed(shop.supplier_id)).applied == 0  # the same feed again
    feed_server.documents["/stock.csv"] = (
        f"certificate_no,available,updated_at\n{cert},7,{T2}\n{cert},lots,{T2}\n".encode()
    )
    results = await feeds.pull_all()
    assert "line 3: available" in str(results[shop.supplier_id])
    assert await _available() == {product: 42}
    stored = await SupplierFeed.select(SupplierFeed.last_error).first()
    assert stored is not None
    assert "line 3" in stored["last_error"]


async def test_a_product_not_of_the_supplier_is_named_by_its_line_in_the_feed(
    db: str, feed_server: FeedServer
) -> None:
    shop, other = await open_shop(), await open_shop()
    ours, theirs = await certificate_of(await shop.add()), await certificate_of(await other.add())
    feed_server.documents["/stock.csv"] = (  # past a blank line, the foreign one is on line 4
        f"certificate_no,available,updated_at\n{ours},1,{T1}\n\n{theirs},1,{T1}\n".encode()
    )
    url = f"{feed_server.base}/stock.csv"
    await feeds.set_feed(shop.supplier_id, FeedIn.model_validate({"url": url, "format": "csv"}))
    with pytest.raises(InvalidInput) as refused:
        await feeds.pull_feed(shop.supplier_id)
    assert [error["line"] for error in refused.value.extra["errors"]] == [4]
    assert await _available() == {}


async def test_a_json_feed_is_pulled_through_the_api_by_head_office(
    client: httpx.AsyncClient, feed_server: FeedServer
) -> None:
    shop = await open_shop()
    product = await shop.add()
    cert = await certificate_of(product)
    feed_server.documents["/feed.json"] = (
        b'{"updates": [{"certificate_no": "%s", "available": 9, "updated_at": "%s"}]}'
        % (cert.encode(), T1.encode())
    )
    await login_as(client, "manager", None)
    url = f"/api/suppliers/{shop.supplier_id}/feed"
    feed = {"url": f"{feed_server.base}/feed.json", "format": "json", "interval_minutes": 30}
    assert (await client.put(url, json=feed)).status_code == 200
    pulled = await client.post(f"{url}/pull")  # the worker may have pulled it first: same end
    assert pulled.json()["received"] == 1
    assert await _available() == {product: 9}
    assert (await client.get(url)).json()["last_error"] == ""
    missing = await client.put(f"/api/suppliers/{await add_supplier() + 1000}/feed", json=feed)
    assert missing.status_code == 404


async def test_a_store_manager_cannot_set_a_feed(client: httpx.AsyncClient) -> None:
    shop = await open_shop()
    await login_as(client, "manager", shop.store_id)
    feed = {"url": "http://127.0.0.1:9/feed.json", "format": "json"}
    response = await client.put(f"/api/suppliers/{shop.supplier_id}/feed", json=feed)
    assert response.status_code == 403


@pytest.mark.parametrize("available", [2**31, 10**20])
async def test_a_feed_whose_available_no_stock_column_can_hold_is_refused_and_kept(
    db: str, feed_server: FeedServer, available: int
) -> None:
    shop = await open_shop()
    cert = await certificate_of(await shop.add())
    feed_server.documents["/stock.csv"] = (
        f"certificate_no,available,updated_at\n{cert},{available},{T1}\n".encode()
    )
    url = f"{feed_server.base}/stock.csv"
    await feeds.set_feed(shop.supplier_id, FeedIn.model_validate({"url": url, "format": "csv"}))
    assert "line 2: available" in str((await feeds.pull_all())[shop.supplier_id])
    assert await _available() == {}
    stored = await SupplierFeed.select(SupplierFeed.last_error).first()
    assert stored is not None
    assert "line 2" in stored["last_error"]


async def _pull(supplier_id: int) -> None:
    """Run the worker's handler of a scheduled pull."""
    event = Event(1, feeds.FEED_PULL, "k", {"supplier_id": supplier_id}, attempts=1)
    await feeds.on_feed_pull(event)


async def _pulls_scheduled() -> int:
    return await OutboxEvent.count().where(OutboxEvent.kind == feeds.FEED_PULL)


async def test_a_feed_with_a_time_past_datetimes_range_is_refused_kept_and_pulled_again(
    db: str, feed_server: FeedServer
) -> None:
    shop = await open_shop()
    cert = await certificate_of(await shop.add())
    feed_server.documents["/stock.csv"] = (
        f"certificate_no,available,updated_at\n{cert},5,{PAST_THE_END}\n".encode()
    )
    url = f"{feed_server.base}/stock.csv"
    await feeds.set_feed(shop.supplier_id, FeedIn.model_validate({"url": url, "format": "csv"}))
    await _pull(shop.supplier_id)
    assert "line 2: updated_at" in (await feeds.get_feed(shop.supplier_id)).last_error
    assert await _available() == {}
    assert await _pulls_scheduled() == 2  # set_feed's, and the next one


async def test_a_pull_failing_unexpectedly_still_schedules_the_next(
    db: str, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = await open_shop()
    url = f"{feed_server.base}/stock.csv"
    await feeds.set_feed(shop.supplier_id, FeedIn.model_validate({"url": url, "format": "csv"}))

    async def broken(supplier_id: int) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(feeds, "pull_feed", broken)
    await _pull(shop.supplier_id)
    assert await _pulls_scheduled() == 2


async def test_a_feed_set_again_is_pulled_from_its_mended_address_at_once(
    db: str, feed_server: FeedServer
) -> None:
    shop = await open_shop()
    product = await shop.add()
    cert = await certificate_of(product)
    header = "certificate_no,available,updated_at\n"
    feed_server.documents["/old.csv"] = f"{header}{cert},5,{T1}\n".encode()
    feed_server.documents["/new.csv"] = f"{header}{cert},9,{T2}\n".encode()
    outbox.register(feeds.FEED_PULL, feeds.on_feed_pull)
    try:
        for path, available in (("/old.csv", 5), ("/new.csv", 9)):
            feed = {"url": f"{feed_server.base}{path}", "format": "csv", "interval_minutes": 1440}
            # set_feed: "pull ... every interval_minutes, starting now", a mended address too.
            await feeds.set_feed(shop.supplier_id, FeedIn.model_validate(feed))
            await outbox.dispatch_due()
            assert await _available() == {product: available}
    finally:
        outbox.unregister(feeds.FEED_PULL, feeds.on_feed_pull)


@pytest.mark.parametrize("old_available", ["5", "lots"])  # older, or refused
async def test_a_pull_of_the_address_a_feed_left_ending_late_changes_nothing(
    db: str, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch, old_available: str
) -> None:
    shop = await open_shop()
    product = await shop.add()
    cert = await certificate_of(product)
    header = "certificate_no,available,updated_at\n"
    feed_server.documents["/old.csv"] = f"{header}{cert},{old_available},{T1}\n".encode()
    feed_server.documents["/new.csv"] = f"{header}{cert},9,{T2}\n".encode()
    old, new = (
        FeedIn.model_validate({"url": f"{feed_server.base}{path}", "format": "csv"})
        for path in ("/old.csv", "/new.csv")
    )
    fetched, resume = anyio.Event(), anyio.Event()
    fetch = feeds._fetch

    async def old_one_late(url: str) -> bytes:
        document = await fetch(url)
        if url.endswith("/old.csv"):
            fetched.set()
            await resume.wait()
        return document

    async def pull_old() -> None:
        with suppress(InvalidInput):  # refused: kept as the feed's status, were it still its own
            await feeds.pull_feed(shop.supplier_id)

    await feeds.set_feed(shop.supplier_id, old)
    monkeypatch.setattr(feeds, "_fetch", old_one_late)
    async with anyio.create_task_group() as group:
        group.start_soon(pull_old)
        await fetched.wait()
        await feeds.set_feed(shop.supplier_id, new)
        assert (await feeds.pull_feed(shop.supplier_id)).applied == 1
        resume.set()

    assert await _available() == {product: 9}
    assert (await feeds.get_feed(shop.supplier_id)).last_error == ""
