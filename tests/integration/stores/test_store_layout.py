"""A store layout is the whole store: what it leaves out is withdrawn, and comes back with it."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from pos import layouts
from pos.catalog import service as catalog
from pos.cli import main
from pos.demo import load_demo
from pos.errors import Conflict, InvalidInput, NotAuthenticated, NotFound
from pos.layouts import apply_layout
from pos.orders import checkout
from pos.orders.schemas import CounterOrderIn
from pos.orders.tables import OrderLine, Plu
from pos.orders.tokens import counter_qr_token
from pos.staff import service as staff
from pos.stores import listings
from pos.stores import service as stores
from pos.stores.schemas import StoreLayout
from pos.stores.tables import ListingPriceChange
from tests.helpers.demo import DEMO, demo_layout
from tests.helpers.locks import done_or_waiting_for_a_lock
from tests.helpers.shop import weight_label
from tests.helpers.staff import login_as

pytestmark = pytest.mark.anyio

LVCUO = "XM-M1-LVCUO"
SECRET = "layout-test-secret-" + "x" * 24


@pytest.fixture
async def counter_id(db: str) -> int:
    summary = await load_demo(DEMO)
    return summary.counter_ids["LVCUO-01"]


async def _sellable(client: httpx.AsyncClient, counter_id: int, **params: object) -> dict:
    response = await client.get(f"/api/counters/{counter_id}/products", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def _order(
    counter_id: int, product_id: int | None = None, *, barcode: str | None = None
) -> checkout.CreatedOrder:
    line = {"barcode": barcode} if barcode else {"product_id": product_id, "quantity": 1}
    data = CounterOrderIn.model_validate(
        {"counter_token": counter_qr_token(counter_id, secret=SECRET), "lines": [line]}
    )
    return await checkout.create_counter_order(
        counter_id, data, idempotency_key=f"k{product_id or barcode}", secret=SECRET
    )


async def test_a_listing_left_out_stops_selling_and_comes_back_with_the_file(
    client: httpx.AsyncClient, counter_id: int
) -> None:
    layout = demo_layout(LVCUO)
    before = await _sellable(client, counter_id, limit=200)
    kept, dropped = layout.listings[1:], layout.listings[0]
    gone = next(i for i in before["items"] if i["certificate_no"] == dropped.certificate_no)

    applied = await apply_layout(layout.model_copy(update={"listings": kept}), changed_by="test")

    assert applied.withdrawn_listings == [dropped.certificate_no]
    now = await _sellable(client, counter_id, limit=200)
    assert gone["product_id"] not in [item["product_id"] for item in now["items"]]
    delta = await _sellable(client, counter_id, since=before["revision"])
    assert [(i["product_id"], i["active"]) for i in delta["items"]] == [(gone["product_id"], False)]
    with pytest.raises(InvalidInput, match="not sold here") as refused:
        await _order(counter_id, gone["product_id"])
    assert refused.value.code == "product_unknown"

    again = await apply_layout(layout, changed_by="test")
    assert again.withdrawn_listings == []
    back = await _sellable(client, counter_id, limit=200)
    assert len(back["items"]) == len(before["items"])


async def test_a_counter_left_out_refuses_its_qr_code_until_it_is_back(
    client: httpx.AsyncClient, counter_id: int
) -> None:
    layout = demo_layout(LVCUO)
    product_id = (await _sellable(client, counter_id))["items"][0]["product_id"]
    without = layout.model_copy(
        update={
            "counters": [],
            "devices": [d.model_copy(update={"counter": None}) for d in layout.devices],
        }
    )

    applied = await apply_layout(without, changed_by="test")

    assert applied.closed_counters == ["LVCUO-01"]
    with pytest.raises(NotFound) as refused:
        await _order(counter_id, product_id)
    assert refused.value.code == "counter_closed"
    catalog = await client.get(f"/api/counters/{counter_id}/products")
    assert catalog.status_code == 404
    assert catalog.json()["code"] == "counter_closed"

    assert (await apply_layout(layout, changed_by="test")).closed_counters == []
    await _order(counter_id, product_id)
    assert (await listings.get_counter(counter_id)).code == "LVCUO-01"


async def test_a_device_left_out_loses_its_tokens_for_good(counter_id: int) -> None:
    layout = demo_layout(LVCUO)
    store_id = (await stores.store_ids_by_code([LVCUO]))[LVCUO]
    tablet = layout.devices[-1]
    device_id = (await stores.device_ids_of([store_id]))[tablet.name]
    issued = await staff.issue_device_token(device_id, store_id=store_id)
    assert (await staff.device_for_token(issued.token)).device_id == device_id

    applied = await apply_layout(
        layout.model_copy(update={"devices": layout.devices[:-1]}), changed_by="test"
    )

    assert applied.deactivated_devices == [tablet.name]
    with pytest.raises(NotAuthenticated):
        await staff.device_for_token(issued.token)
    with pytest.raises(Conflict) as refused:  # it would come alive with the device
        await staff.issue_device_token(device_id, store_id=store_id)
    assert refused.value.code == "device_inactive"
    # Back in the file it is a device again, but a lost or stolen one's old token stays dead.
    assert (await apply_layout(layout, changed_by="test")).deactivated_devices == []
    with pytest.raises(NotAuthenticated):
        await staff.device_for_token(issued.token)
    renewed = await staff.issue_device_token(device_id, store_id=store_id)
    assert (await staff.device_for_token(renewed.token)).device_id == device_id


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # SQLite: one writer
async def test_a_token_asked_for_while_a_layout_leaves_its_device_out_is_refused(
    counter_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = demo_layout(LVCUO)
    store_id = (await stores.store_ids_by_code([LVCUO]))[LVCUO]
    device_id = (await stores.device_ids_of([store_id]))[layout.devices[-1].name]
    # The layout's transaction has left the device out and goes on (held here) before it commits.
    held, go_on = anyio.Event(), anyio.Event()
    teach_scales = layouts._teach_scales

    async def held_before_commit(*args: Any) -> None:
        held.set()
        await go_on.wait()
        await teach_scales(*args)

    monkeypatch.setattr(layouts, "_teach_scales", held_before_commit)
    refused: list[str] = []

    async def issue() -> None:
        with pytest.raises(Conflict) as conflict:
            await staff.issue_device_token(device_id, store_id=store_id)
        refused.append(conflict.value.code)

    without_it = layout.model_copy(update={"devices": layout.devices[:-1]})
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(lambda: apply_layout(without_it, changed_by="test"))
        with anyio.fail_after(10):
            await held.wait()
        tasks.start_soon(issue)
        await done_or_waiting_for_a_lock(lambda: bool(refused))
        go_on.set()

    assert refused == ["device_inactive"]


async def test_applying_the_same_layout_again_withdraws_nothing(counter_id: int) -> None:
    applied = await apply_layout(demo_layout(LVCUO), changed_by="test")
    assert (applied.closed_counters, applied.deactivated_devices, applied.withdrawn_listings) == (
        [],
        [],
        [],
    )


async def test_the_layout_says_how_the_stores_scales_print_labels(counter_id: int) -> None:
    assert (await stores.counter_store_rules(counter_id))[1].label_scheme == "weight_plu5"
    priced = demo_layout(LVCUO).model_copy(update={"label_scheme": "price_plu5"})
    await apply_layout(priced, changed_by="test")
    assert (await stores.counter_store_rules(counter_id))[1].label_scheme == "price_plu5"
    with pytest.raises(ValidationError, match="label_scheme"):
        StoreLayout.model_validate({**demo_layout(LVCUO).model_dump(), "label_scheme": "plu6"})


async def test_a_listings_plu_names_its_product_on_the_stores_scale_labels(
    counter_id: int,
) -> None:
    layout = demo_layout(LVCUO)
    weighed = 3  # the plums, sold by the kg
    listings = layout.listings
    labelled = [*listings[:weighed], listings[weighed].model_copy(update={"plu": "7777"})]
    labelled += listings[weighed + 1 :]
    applied = await apply_layout(layout.model_copy(update={"listings": labelled}), changed_by="t")
    product = await Plu.select(Plu.product).where(
        (Plu.store == applied.store_id) & (Plu.plu == "07777")
    )
    plums = listings[weighed].certificate_no
    products = await catalog.product_ids_by_certificate([plums])
    assert product == [{"product": products[plums]}]
    twice = [labelled[0].model_copy(update={"plu": "07777"}), *labelled[1:]]
    with pytest.raises(InvalidInput, match="PLU 07777 names two listings"):
        await apply_layout(layout.model_copy(update={"listings": twice}), changed_by="t")


async def test_a_plu_left_out_of_the_layout_stops_meaning_its_product(counter_id: int) -> None:
    layout = demo_layout(LVCUO)
    plums = layout.listings[3]  # sold by the kg
    labelled = [item.model_copy(update={"plu": None}) for item in layout.listings]
    labelled[3] = plums.model_copy(update={"plu": "07777"})
    await apply_layout(layout.model_copy(update={"listings": labelled}), changed_by="t")
    sold = (await _order(counter_id, barcode=weight_label("07777", 500))).order
    # The scales are reprogrammed: 07777 is no longer the plums'.
    labelled[3] = plums.model_copy(update={"plu": None})

    await apply_layout(layout.model_copy(update={"listings": labelled}), changed_by="t")

    with pytest.raises(InvalidInput) as refused:
        await _order(counter_id, barcode=weight_label("07777", 400))
    assert refused.value.code == "barcode_unknown"
    products = await catalog.product_ids_by_certificate([plums.certificate_no])
    kept = await OrderLine.select(OrderLine.product).where(OrderLine.order == sold.id)
    assert kept == [{"product": products[plums.certificate_no]}]  # the sale keeps its plums


async def test_a_store_price_is_recorded_with_who_and_why(counter_id: int) -> None:
    layout = demo_layout(LVCUO)
    first, second = layout.listings[0], layout.listings[1]
    priced = layout.model_copy(
        update={"listings": [first.model_copy(update={"price_fen": 1680}), *layout.listings[1:]]}
    )
    await apply_layout(priced, changed_by="cli:ops", reason="stores.json of 2026-12-03")
    back = layout.model_copy(
        update={
            "listings": [first, second.model_copy(update={"price_fen": 990}), *layout.listings[2:]]
        }
    )
    await apply_layout(back, changed_by="staff:2", reason="weekend offer")
    changes = (
        await ListingPriceChange.select(
            ListingPriceChange.listing.product.certificate_no.as_alias("certificate_no"),
            ListingPriceChange.old_price_fen,
            ListingPriceChange.new_price_fen,
            ListingPriceChange.changed_by,
            ListingPriceChange.reason,
        )
        .where(ListingPriceChange.changed_by != "pos demo")
        .order_by(ListingPriceChange.id)
    )
    assert changes == [
        {
            "certificate_no": first.certificate_no,
            "old_price_fen": None,
            "new_price_fen": 1680,
            "changed_by": "cli:ops",
            "reason": "stores.json of 2026-12-03",
        },
        {
            "certificate_no": first.certificate_no,
            "old_price_fen": 1680,
            "new_price_fen": None,
            "changed_by": "staff:2",
            "reason": "weekend offer",
        },
        {
            "certificate_no": second.certificate_no,
            "old_price_fen": None,
            "new_price_fen": 990,
            "changed_by": "staff:2",
            "reason": "weekend offer",
        },
    ]


async def test_managers_read_the_store_and_catalog_price_changes(
    client: httpx.AsyncClient, counter_id: int
) -> None:
    layout = demo_layout(LVCUO)
    first = layout.listings[0]
    priced = [first.model_copy(update={"price_fen": 1680}), *layout.listings[1:]]
    await apply_layout(layout.model_copy(update={"listings": priced}), changed_by="cli:ops")
    store_id = (await stores.store_ids_by_code([LVCUO]))[LVCUO]
    path = f"/api/stores/{store_id}/price-changes"
    await login_as(client, "restocker", store_id)
    assert (await client.get(path)).status_code == 403
    await login_as(client, "manager", store_id)
    listed = await client.get(path)
    assert listed.status_code == 200, listed.text
    latest = listed.json()[0]
    assert (latest["scope"], latest["old_price_fen"], latest["new_price_fen"]) == (
        "store",
        None,
        1680,
    )
    assert (latest["changed_by"], latest["reason"]) == ("cli:ops", "store layout")
    assert latest["product_name"]
    product_id = latest["product_id"]
    only = await client.get(path, params={"product_id": product_id})
    assert {row["product_id"] for row in only.json()} == {product_id}


def test_pos_stores_load_says_what_a_file_withdrew(sqlite_template: Path, tmp_path: Path) -> None:
    database = tmp_path / "pos.sqlite3"
    shutil.copy(sqlite_template, database)
    env = {"POS_DATABASE_URL": f"sqlite:///{database}"}
    layouts = json.loads((DEMO / "stores.json").read_text(encoding="utf-8"))
    imported = CliRunner().invoke(main, ["catalog", "import", str(DEMO / "catalog.jsonl")], env=env)
    assert imported.exit_code == 0, imported.output
    first = CliRunner().invoke(main, ["stores", "load", str(DEMO / "stores.json")], env=env)
    assert first.exit_code == 0, first.output
    assert first.output.splitlines() == ["2 store(s) loaded"]

    lvcuo = next(layout for layout in layouts if layout["code"] == LVCUO)
    lvcuo["devices"] = lvcuo["devices"][:1]
    lvcuo["listings"] = lvcuo["listings"][1:]
    changed = tmp_path / "stores.json"
    changed.write_text(json.dumps(layouts, ensure_ascii=False), encoding="utf-8")
    second = CliRunner().invoke(main, ["stores", "load", str(changed)], env=env)

    assert second.exit_code == 0, second.output
    assert second.output.splitlines() == [
        f"{LVCUO}: deactivated devices (tokens revoked): lvcuo-tablet;"
        " withdrawn listings: FPC-341623-2026-0001",
        "2 store(s) loaded",
    ]


def test_a_new_store_whose_layout_names_no_time_zone_gets_pos_time_zone(
    sqlite_template: Path, tmp_path: Path
) -> None:
    database = tmp_path / "pos.sqlite3"
    shutil.copy(sqlite_template, database)
    layouts = tmp_path / "stores.json"
    layout = {"code": "DE-BERLIN", "name_zh": "柏林店", "kind": "supermarket_zone"}
    layouts.write_text(json.dumps([layout], ensure_ascii=False), encoding="utf-8")

    def load(zone: str) -> str:
        env = {"POS_DATABASE_URL": f"sqlite:///{database}", "POS_TIME_ZONE": zone}
        loaded = CliRunner().invoke(main, ["stores", "load", str(layouts)], env=env)
        assert loaded.exit_code == 0, loaded.output
        with sqlite3.connect(database) as connection:
            (stored,) = connection.execute("SELECT time_zone FROM store").fetchone()
        return str(stored)

    assert load("Europe/Berlin") == "Europe/Berlin"
    assert load("Asia/Shanghai") == "Europe/Berlin"  # a store already there keeps its own
