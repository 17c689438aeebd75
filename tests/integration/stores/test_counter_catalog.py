from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from pos.app import create_app
from pos.catalog import service as catalog
from pos.catalog.tables import Product
from pos.demo import load_demo
from pos.errors import InvalidInput
from pos.layouts import apply_layout
from pos.settings import Settings
from pos.staff.tables import StaffUser
from pos.stores import listings
from pos.stores import service as stores
from pos.stores.schemas import CounterIn, ListingIn, PrinterIn, StoreLayout
from pos.stores.tables import Counter, Listing, Store
from tests.helpers.clock import Tomorrow
from tests.helpers.demo import DEMO, demo_layout
from tests.helpers.shop import open_shop

pytestmark = pytest.mark.anyio


@pytest.fixture
async def counter_id(db: str) -> int:
    await load_demo(DEMO)
    ids = await stores.store_ids_by_code(["XM-M1-LVCUO"])
    return await _first_counter_of(ids["XM-M1-LVCUO"])


async def _first_counter_of(store_id: int) -> int:
    row = await Counter.select(Counter.id).where(Counter.store == store_id).first()
    assert row is not None
    return int(row["id"])


async def _all_items(client: httpx.AsyncClient, counter_id: int, **params: object) -> list[dict]:
    items: list[dict] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        body = (await client.get(f"/api/counters/{counter_id}/products", params=query)).json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


async def test_counter_lists_its_store_products_with_price_and_origin(
    client: httpx.AsyncClient, counter_id: int
) -> None:
    items = await _all_items(client, counter_id)
    assert len(items) >= 5
    noodles = next(item for item in items if "面" in item["name_zh"])
    assert noodles["origin_county_name"] == "利辛县"
    assert noodles["certified"] is True
    assert isinstance(noodles["price_fen"], int)
    assert {item["unit"] for item in items} == {"piece", "kg"}


async def test_pages_follow_the_cursor_without_gaps(
    client: httpx.AsyncClient, counter_id: int
) -> None:
    everything = await _all_items(client, counter_id, limit=200)
    paged = await _all_items(client, counter_id, limit=2)
    assert [i["product_id"] for i in paged] == [i["product_id"] for i in everything]


async def test_a_page_holds_pos_catalog_page_size_products_unless_the_device_asks(
    settings: Settings, counter_id: int
) -> None:
    app = create_app(settings.model_copy(update={"catalog_page_size": 2}))
    url = f"/api/counters/{counter_id}/products"
    async with app.lifespan():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://pos.test") as http:
            default = (await http.get(url)).json()
            asked = (await http.get(url, params={"limit": 3})).json()
    assert len(default["items"]) == 2
    assert default["next_cursor"] is not None
    assert len(asked["items"]) == 3


async def test_a_cursor_past_the_id_range_is_a_400(
    client: httpx.AsyncClient, counter_id: int
) -> None:
    url = f"/api/counters/{counter_id}/products"
    response = await client.get(url, params={"cursor": 2**31})
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["key"] == "cursor"


async def test_search_by_name_initials_and_barcode(
    client: httpx.AsyncClient, counter_id: int
) -> None:
    items = await _all_items(client, counter_id)
    target = next(item for item in items if item["gtin"])
    url = f"/api/counters/{counter_id}/products"
    for query in (target["name_zh"][1:3], target["name_initials"][:3], target["gtin"]):
        found = (await client.get(url, params={"q": query})).json()["items"]
        assert target["product_id"] in [item["product_id"] for item in found], query
    assert (await client.get(url, params={"q": "zzzzqqq"})).json()["items"] == []


async def test_unchanged_catalog_answers_304_to_its_etag(
    client: httpx.AsyncClient, counter_id: int
) -> None:
    url = f"/api/counters/{counter_id}/products"
    first = await client.get(url)
    again = await client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


async def test_since_returns_only_what_changed(client: httpx.AsyncClient, counter_id: int) -> None:
    url = f"/api/counters/{counter_id}/products"
    before = (await client.get(url)).json()
    assert (await client.get(url, params={"since": before["revision"]})).json()["items"] == []
    counter = await listings.get_counter(counter_id)
    changed = before["items"][0]
    etag = (await client.get(url)).headers["etag"]
    await _reprice(counter.store_id, changed["certificate_no"], changed["price_fen"] + 100)
    delta = (await client.get(url, params={"since": before["revision"]})).json()
    assert [item["product_id"] for item in delta["items"]] == [changed["product_id"]]
    assert delta["items"][0]["price_fen"] == changed["price_fen"] + 100
    assert delta["revision"] > before["revision"]
    assert (await client.get(url, headers={"If-None-Match": etag})).status_code == 200


async def test_since_past_the_revision_column_is_a_400(
    client: httpx.AsyncClient, counter_id: int
) -> None:
    url = f"/api/counters/{counter_id}/products"

    response = await client.get(url, params={"since": 2**63})

    assert response.status_code == 400, response.text


async def test_a_since_read_after_midnight_reports_a_certificate_that_ended(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = await open_shop()
    noodles = await shop.add(price_fen=1250)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    await Product.update({Product.valid_until: today}).where(Product.id == noodles)
    url = f"/api/counters/{shop.counter_id}/products"
    seen = (await client.get(url)).json()
    assert [item["certified"] for item in seen["items"]] == [True]
    monkeypatch.setattr(listings, "datetime", Tomorrow)
    assert [i["certified"] for i in (await client.get(url)).json()["items"]] == [False]
    delta = (await client.get(url, params={"since": seen["revision"]})).json()
    # A device following `since` keeps showing the certified mark the day after it ended.
    assert [(i["product_id"], i["certified"]) for i in delta["items"]] == [(noodles, False)]


async def test_a_since_read_on_a_new_day_returns_only_certificates_starting_or_ending(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = await open_shop()
    ending, starting, lasting, expired = [await shop.add() for _ in range(4)]
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    tomorrow = today + timedelta(days=1)
    await Product.update({Product.valid_until: today}).where(Product.id == ending)
    await Product.update({Product.valid_from: tomorrow}).where(Product.id == starting)
    await Product.update({Product.valid_until: today - timedelta(days=1)}).where(
        Product.id == expired
    )
    url = f"/api/counters/{shop.counter_id}/products"
    seen = (await client.get(url)).json()
    same_day = (await client.get(url, params={"since": seen["revision"]})).json()
    assert same_day["items"] == []
    assert same_day["revision"] == seen["revision"]

    monkeypatch.setattr(listings, "datetime", Tomorrow)
    delta = (await client.get(url, params={"since": seen["revision"]})).json()

    changed = [(i["product_id"], i["certified"]) for i in delta["items"]]
    assert sorted(changed) == sorted([(ending, False), (starting, True)])
    assert lasting not in [i["product_id"] for i in delta["items"]]
    after = (await client.get(url, params={"since": delta["revision"]})).json()
    assert after["items"] == []


async def test_a_plain_revision_from_an_older_device_fetches_everything(
    client: httpx.AsyncClient, counter_id: int
) -> None:
    everything = await _all_items(client, counter_id, limit=200)
    legacy = await _all_items(client, counter_id, since=await catalog.current_revision())
    listed = {i["product_id"] for i in legacy if i["active"]}
    assert listed == {i["product_id"] for i in everything}


async def _reprice(store_id: int, certificate_no: str, price_fen: int) -> None:
    """Load the store's demo layout again, with one listing at a new price."""
    store = await Store.select(Store.code).where(Store.id == store_id).first()
    assert store is not None
    layout = demo_layout(store["code"])
    listings = [
        ListingIn(certificate_no=item.certificate_no, price_fen=price_fen)
        if item.certificate_no == certificate_no
        else item
        for item in layout.listings
    ]
    await apply_layout(layout.model_copy(update={"listings": listings}), changed_by="test")


async def test_loading_the_demo_twice_changes_nothing(db: str) -> None:
    await load_demo(DEMO)
    counts = [await table.count() for table in (Product, Listing, Counter, StaffUser)]
    await load_demo(DEMO)
    assert [await table.count() for table in (Product, Listing, Counter, StaffUser)] == counts


async def test_a_layout_cannot_take_a_counter_code_of_another_store(counter_id: int) -> None:
    taken = await listings.get_counter(counter_id)
    other = StoreLayout(
        code="XM-OTHER",
        name_zh="另一家店",
        kind="subway_counter",
        counters=[CounterIn(code=taken.code, name_zh="抢来的柜台")],
    )
    with pytest.raises(InvalidInput, match=taken.code):
        await apply_layout(other, changed_by="test")
    assert await listings.get_counter(counter_id) == taken
    assert await stores.store_ids_by_code(["XM-OTHER"]) == {}


@pytest.mark.parametrize("url", ["tpc://10.0.0.5:9100", "tcp://[fe80::1:9100"])
async def test_a_layout_with_a_printer_url_no_connector_reads_is_refused(db: str, url: str) -> None:
    layout = StoreLayout(
        code="XM-TYPO",
        name_zh="打错地址的店",
        kind="subway_counter",
        printers=[PrinterIn(name="counter-printer", connection_url=url)],
    )
    with pytest.raises(InvalidInput, match=r"counter-printer.*printer URL"):
        await apply_layout(layout, changed_by="test")
    assert await stores.store_ids_by_code(["XM-TYPO"]) == {}
