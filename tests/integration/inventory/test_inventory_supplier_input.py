"""Supplier pushes and feeds the database could not hold, or that would freeze stock."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from pos.inventory import feeds
from pos.inventory.signing import signed_headers
from pos.inventory.sync_schemas import FeedIn
from pos.inventory.tables import SupplierFeed, SupplierStock
from tests.helpers.dripping import dripping_server
from tests.helpers.shop import open_shop
from tests.helpers.staff import login_as

from .conftest import FeedServer, SupplierClient, certificate_of, store_code, supplier_client

pytestmark = pytest.mark.anyio

T1 = "2026-06-01T08:00:00+08:00"


async def _pulled_feed(
    client: httpx.AsyncClient, supplier_id: int, base: str
) -> tuple[httpx.Response, str]:
    """Head office sets the supplier's CSV feed at `base`/stock.csv and pulls it: the answer to
    the pull, and the error the feed keeps."""
    await login_as(client, "manager", None)
    url = f"/api/suppliers/{supplier_id}/feed"
    feed = {"url": f"{base}/stock.csv", "format": "csv"}
    assert (await client.put(url, json=feed)).status_code == 200
    pulled = await client.post(f"{url}/pull")
    return pulled, (await client.get(url)).json()["last_error"]


async def _available() -> dict[int, int]:
    rows = await SupplierStock.select(SupplierStock.product, SupplierStock.available)
    return {row["product"]: row["available"] for row in rows}


async def _signed_post(
    client: httpx.AsyncClient, supplier: SupplierClient, path: str, raw: bytes, ctype: str | None
) -> httpx.Response:
    """A correctly signed push whose Content-Type is whatever the supplier's system sends."""
    headers = {"X-Api-Key": supplier.api_key}
    if ctype:
        headers["Content-Type"] = ctype
    headers |= signed_headers(supplier.signing_secret, raw, datetime.now(UTC))
    return await client.post(
        f"/api/suppliers/{supplier.supplier_id}{path}", content=raw, headers=headers
    )


@pytest.mark.parametrize("ctype", ["text/plain", None])
@pytest.mark.parametrize("path", ["/stock", "/shipments"])
async def test_a_nul_in_a_push_not_labelled_json_is_refused(
    client: httpx.AsyncClient, ctype: str | None, path: str
) -> None:
    shop = await open_shop()
    cert = await certificate_of(await shop.add())
    supplier = await supplier_client(shop.supplier_id)
    if path == "/stock":
        body: dict[str, object] = {
            "updates": [{"certificate_no": cert + "\x00", "available": 1, "updated_at": T1}]
        }
    else:
        body = {
            "reference": "ASN-1",
            "store_code": await store_code(shop.store_id),
            "updated_at": T1,
            "lines": [{"certificate_no": cert, "quantity": 3, "lot": "L\x00"}],
        }
    response = await _signed_post(client, supplier, path, json.dumps(body).encode(), ctype)
    assert response.status_code == 422, response.text
    assert await _available() == {}


async def test_a_feed_url_longer_than_its_column_is_refused(
    client: httpx.AsyncClient,
) -> None:
    shop = await open_shop()
    await login_as(client, "manager", None)
    feed = {"url": "http://127.0.0.1:9/" + "a" * 600, "format": "json"}
    response = await client.put(f"/api/suppliers/{shop.supplier_id}/feed", json=feed)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["key"] == "url"


async def test_an_unreadable_csv_feed_is_refused_and_kept(
    client: httpx.AsyncClient, feed_server: FeedServer
) -> None:
    shop = await open_shop()
    cert = await certificate_of(await shop.add())
    feed_server.documents["/stock.csv"] = (  # a field past the csv module's 128 KiB limit
        f'certificate_no,available,updated_at\n{cert},1,{T1}\n"{"x" * 200_000}",1,{T1}\n'
    ).encode()
    pulled, last_error = await _pulled_feed(client, shop.supplier_id, feed_server.base)
    assert pulled.status_code == 422, pulled.text
    assert last_error != ""
    assert await _available() == {}


@pytest.mark.parametrize(
    ("cap", "lines", "reason"),
    [("MAX_FEED_BYTES", 1_000, "the feed is larger than"), ("MAX_UPDATES", 2, "more than 2 lines")],
)
async def test_a_feed_past_its_size_or_line_cap_is_refused_and_kept(
    client: httpx.AsyncClient,
    feed_server: FeedServer,
    monkeypatch: pytest.MonkeyPatch,
    cap: str,
    lines: int,
    reason: str,
) -> None:
    monkeypatch.setattr(feeds, cap, lines)  # 100 000 lines or 32 MiB, made small
    shop = await open_shop()
    cert = await certificate_of(await shop.add())
    feed_server.documents["/stock.csv"] = (
        "certificate_no,available,updated_at\n" + f"{cert},1,{T1}\n" * 100
    ).encode()
    pulled, last_error = await _pulled_feed(client, shop.supplier_id, feed_server.base)
    assert pulled.status_code == 422, pulled.text
    assert reason in last_error
    assert await _available() == {}


async def test_a_feed_dripping_its_document_is_given_up_on_at_the_timeout(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feeds, "FETCH_TIMEOUT_S", 1.0)  # each drip comes well within it
    shop = await open_shop()
    async with dripping_server() as feed_base:
        pulled, last_error = await _pulled_feed(client, shop.supplier_id, feed_base)
    assert pulled.status_code == 503, pulled.text
    assert "no whole answer within 1 s" in last_error


async def test_one_unreadable_feed_does_not_stop_pull_all_for_the_others(
    db: str, feed_server: FeedServer
) -> None:
    broken, good = await open_shop(), await open_shop()
    broken_cert = await certificate_of(await broken.add())
    product = await good.add()
    good_cert = await certificate_of(product)
    feed_server.documents["/broken.csv"] = (
        f'certificate_no,available,updated_at\n"{broken_cert}{"x" * 200_000}",1,{T1}\n'
    ).encode()
    feed_server.documents["/good.csv"] = (
        f"certificate_no,available,updated_at\n{good_cert},11,{T1}\n"
    ).encode()
    for shop, name in ((broken, "broken"), (good, "good")):
        data = FeedIn.model_validate({"url": f"{feed_server.base}/{name}.csv", "format": "csv"})
        await feeds.set_feed(shop.supplier_id, data)
    results = await feeds.pull_all()  # `pos inventory pull-feeds`
    assert isinstance(results[broken.supplier_id], str)
    assert await _available() == {product: 11}
    kept = await SupplierFeed.select(SupplierFeed.last_error).where(
        SupplierFeed.supplier == broken.supplier_id
    )
    assert kept[0]["last_error"] != ""


async def test_a_far_future_supplier_time_does_not_freeze_its_stock(
    client: httpx.AsyncClient,
) -> None:
    shop = await open_shop()
    product = await shop.add()
    cert = await certificate_of(product)
    supplier = await supplier_client(shop.supplier_id)

    def push(available: int, at: str) -> dict[str, object]:
        return {"updates": [{"certificate_no": cert, "available": available, "updated_at": at}]}

    # A supplier clock typo (2096 for 2026) is refused, naming the clock.
    ahead = await supplier.post(client, "/stock", push(5, "2096-06-01T08:00:00+08:00"))
    assert ahead.status_code == 422, ahead.text
    assert "clock" in ahead.text
    now = datetime.now(UTC).isoformat()
    fixed = await supplier.post(client, "/stock", push(70, now))
    assert fixed.status_code == 200, fixed.text
    assert await _available() == {product: 70}


async def test_a_push_as_large_as_a_feed_may_be_is_read_and_a_larger_one_is_refused(
    client: httpx.AsyncClient,
) -> None:
    shop = await open_shop()
    product = await shop.add()
    supplier = await supplier_client(shop.supplier_id)
    update = {"certificate_no": await certificate_of(product), "available": 9, "updated_at": T1}
    # MAX_UPDATES lines of 40-character certificates, pretty-printed, pass 10 MB: padded here.
    body = json.dumps({"updates": [update]}).encode()
    padded = body[:-1] + b" " * (feeds.MAX_FEED_BYTES - len(body)) + b"}"

    read = await _signed_post(client, supplier, "/stock", padded, "application/json")

    assert read.status_code == 200, read.text[:300]
    assert await _available() == {product: 9}
    larger = await _signed_post(client, supplier, "/stock", padded + b" ", "application/json")
    assert larger.status_code == 413
    assert larger.json()["max_bytes"] == feeds.MAX_FEED_BYTES
    assert "send it in parts" in larger.json()["detail"]
