"""What a store layout may not say: refused whole, before anything changes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pos.catalog import service as catalog
from pos.errors import InvalidInput
from pos.layouts import apply_layout, apply_layouts_file
from pos.stores.schemas import CounterIn, ListingIn, StoreLayout
from pos.stores.tables import Counter, Device, Listing, ListingPriceChange, Store
from tests.helpers.catalog import csv_bytes, row

pytestmark = pytest.mark.anyio

NOODLES, SHOOTS = "T-000001", "T-000002"  # row(1) and row(2) of the test catalog


async def _import(*rows: dict) -> None:
    await catalog.import_catalog(csv_bytes(list(rows)), fmt="csv", changed_by="test")


def _layout(code: str, *listings: ListingIn, counters: tuple[str, ...] = ("C1",)) -> dict:
    return StoreLayout(
        code=code,
        name_zh="测试门店",
        kind="subway_counter",
        counters=[CounterIn(code=f"{code}-{c}", name_zh="柜台") for c in counters],
        listings=list(listings),
    ).model_dump()


def _file(tmp_path: Path, *layouts: dict) -> Path:
    path = tmp_path / "stores.json"
    path.write_text(json.dumps(list(layouts)), encoding="utf-8")
    return path


async def _stores() -> list[list[dict[str, Any]]]:
    return [await table.select().order_by(table.id) for table in (Store, Counter, Listing)]


async def test_a_file_name_longer_than_a_reason_holds_is_clipped_in_the_price_change(
    db: str, tmp_path: Path
) -> None:
    await _import(row(1))
    path = tmp_path / f"{'x' * 250}.json"  # as long as a file name gets
    layout = _layout("S1", ListingIn(certificate_no=NOODLES, price_fen=1000))
    path.write_text(json.dumps([layout]), encoding="utf-8")
    await apply_layouts_file(path, changed_by="t")
    (change,) = await ListingPriceChange.select(ListingPriceChange.reason)
    assert change["reason"] == f"store layout {path.name}"[:255]


async def test_a_product_listed_twice_is_refused(db: str) -> None:
    await _import(row(1))
    layout = _layout(
        "S1",
        ListingIn(certificate_no=NOODLES, price_fen=1000),
        ListingIn(certificate_no=NOODLES, price_fen=2000),
    )

    with pytest.raises(InvalidInput, match=f"store S1 lists {NOODLES} twice"):
        await apply_layout(StoreLayout.model_validate(layout), changed_by="t")

    assert await Listing.count() == 0


async def test_a_plu_on_a_product_sold_by_the_piece_is_refused(db: str) -> None:
    await _import(row(1, unit="piece"))  # a scale label weighs or prices: it could never sell
    layout = _layout("S1", ListingIn(certificate_no=NOODLES, plu="01234"))

    with pytest.raises(InvalidInput, match="a PLU is for goods sold by the kg"):
        await apply_layout(StoreLayout.model_validate(layout), changed_by="t")

    assert await Store.count() == 0


async def test_a_store_price_past_what_a_price_column_holds_is_refused(
    db: str, tmp_path: Path
) -> None:
    await _import(row(1))
    path = _file(tmp_path, _layout("S1", ListingIn(certificate_no=NOODLES)))
    layouts = json.loads(path.read_text())
    layouts[0]["listings"][0]["price_fen"] = 2**31
    path.write_text(json.dumps(layouts))

    with pytest.raises(InvalidInput, match="price_fen"):
        await apply_layouts_file(path, changed_by="t")

    assert await Store.count() == 0


async def test_a_merchant_id_the_platform_s_headers_cannot_carry_is_refused(
    db: str, tmp_path: Path
) -> None:
    layout = _layout("S1") | {"merchant_id": "ＸＭ-0001"}  # full-width letters, typed in Chinese

    with pytest.raises(InvalidInput, match="merchant_id"):
        await apply_layouts_file(_file(tmp_path, layout), changed_by="t")

    assert await Store.count() == 0


async def test_a_file_with_one_bad_store_changes_no_store(db: str, tmp_path: Path) -> None:
    await _import(row(1))
    path = _file(tmp_path, _layout("S1", ListingIn(certificate_no=NOODLES), counters=("C1", "C2")))
    await apply_layouts_file(path, changed_by="t")
    # S1 drops counter C2, and a new store S2 has a typo in a certificate.
    path = _file(
        tmp_path,
        _layout("S1", ListingIn(certificate_no=NOODLES), counters=("C1",)),
        _layout("S2", ListingIn(certificate_no="T-999999")),
    )

    with pytest.raises(InvalidInput, match="T-999999"):
        await apply_layouts_file(path, changed_by="t")

    still_open = await Counter.select(Counter.active).where(Counter.code == "S1-C2").first()
    assert still_open == {"active": True}
    assert await Store.count() == 1


async def test_a_misspelt_devices_key_is_refused_and_no_device_is_deactivated(
    db: str, tmp_path: Path
) -> None:
    await _import(row(1))
    layout = _layout("S1", ListingIn(certificate_no=NOODLES))
    layout["devices"] = [{"name": "kiosk-1", "kind": "kiosk"}]
    await apply_layouts_file(_file(tmp_path, layout), changed_by="t")
    layout["device"] = layout.pop("devices")  # read as no devices, it would deactivate them all

    with pytest.raises(InvalidInput, match=r"0\.device\n.*Extra inputs are not permitted"):
        await apply_layouts_file(_file(tmp_path, layout), changed_by="t")

    assert await Device.select(Device.name).where(Device.active.eq(True)) == [{"name": "kiosk-1"}]


async def test_a_misspelt_or_boolean_listing_price_is_refused_and_the_store_price_stays(
    db: str, tmp_path: Path
) -> None:
    await _import(row(1))
    layout = _layout("S1", ListingIn(certificate_no=NOODLES, price_fen=1000))
    await apply_layouts_file(_file(tmp_path, layout), changed_by="t")
    layout["listings"][0] = {"certificate_no": NOODLES, "price": 1200}

    with pytest.raises(InvalidInput, match=r"0\.listings\.0\.price\n.*Extra inputs"):
        await apply_layouts_file(_file(tmp_path, layout), changed_by="t")
    layout["listings"][0] = {"certificate_no": NOODLES, "price_fen": True}
    with pytest.raises(InvalidInput, match="must be a number, not true or false"):
        await apply_layouts_file(_file(tmp_path, layout), changed_by="t")

    assert await Listing.select(Listing.price_fen) == [{"price_fen": 1000}]


async def test_a_store_given_twice_in_a_file_is_refused_and_changes_nothing(
    db: str, tmp_path: Path
) -> None:
    await _import(row(1), row(2))
    today = _layout("S1", ListingIn(certificate_no=NOODLES, price_fen=1680), counters=("A",))
    await apply_layouts_file(_file(tmp_path, today), changed_by="t")
    before = await _stores()
    # A file of many stores in which an old copy of S1's block was left behind when merging.
    stale = _layout("S1", ListingIn(certificate_no=SHOOTS), counters=("B",))

    with pytest.raises(InvalidInput, match="gives store S1 twice"):
        await apply_layouts_file(_file(tmp_path, today, stale), changed_by="t")

    assert await _stores() == before  # counter S1-A open, the noodles on sale at 16.80


@pytest.mark.parametrize(
    ("part", "twice", "named"),
    [
        (
            "devices",
            [
                {"name": "kiosk-5", "kind": "kiosk", "counter": "S1-C1"},
                {"name": "kiosk-5", "kind": "tablet"},
            ],
            "device kiosk-5",
        ),
        (
            "counters",
            [{"code": "S1-C1", "name_zh": "入口"}, {"code": "S1-C1", "name_zh": "出口"}],
            "counter S1-C1",
        ),
        (
            "printers",
            [
                {"name": "desk", "connection_url": "tcp://192.0.2.10:9100"},
                {"name": "desk", "connection_url": "tcp://192.0.2.11:9100"},
            ],
            "printer desk",
        ),
    ],
)
async def test_a_device_counter_or_printer_named_twice_in_a_layout_is_refused(
    db: str, tmp_path: Path, part: str, twice: list[dict[str, Any]], named: str
) -> None:
    layout = _layout("S1") | {part: twice}  # read one after the other, the last would win

    with pytest.raises(InvalidInput, match=f"store S1 names {named} twice"):
        await apply_layouts_file(_file(tmp_path, layout), changed_by="t")

    assert await Store.count() == 0
