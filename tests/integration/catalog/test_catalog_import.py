"""Importing the certified list on SQLite and PostgreSQL: upserts, revisions, all-or-nothing."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from pos.catalog import service as catalog
from pos.catalog.columns import COLUMNS
from pos.catalog.tables import County, Product, ProductPriceChange, Province, Supplier
from pos.errors import InvalidInput, NotFound
from tests.helpers.catalog import (
    LIXIN,
    NANCHUAN,
    credit_code,
    csv_bytes,
    gtin,
    jsonl_bytes,
    nanchuan_row,
    row,
)

pytestmark = pytest.mark.anyio

DEMO = Path(__file__).parents[3] / "fixtures" / "demo" / "catalog.jsonl"
SALE_DAY = date(2026, 6, 15)  # within the test rows' 2026-01-01..2027-12-31


async def _import(rows: list[dict[str, Any]], **kwargs: Any) -> catalog.ImportReport:
    return await catalog.import_catalog(
        csv_bytes(rows), fmt="csv", **{"changed_by": "test", **kwargs}
    )


async def _revisions() -> dict[str, int]:
    rows = await Product.select(Product.certificate_no, Product.revision)
    return {r["certificate_no"]: r["revision"] for r in rows}


async def _snapshot() -> dict[str, Any]:
    """Everything an import may change."""
    return {
        "revision": await catalog.current_revision(),
        "provinces": await Province.select().order_by(Province.id),
        "counties": await County.select().order_by(County.id),
        "suppliers": await Supplier.select().order_by(Supplier.id),
        "products": await Product.select().order_by(Product.id),
    }


async def _product(certificate_no: str) -> catalog.ProductOut:
    ids = await catalog.product_ids_by_certificate([certificate_no])
    return await catalog.get_product(ids[certificate_no])


async def test_first_import_inserts_and_a_repeat_changes_nothing(db: str) -> None:
    assert await catalog.current_revision() == 0
    rows = [row(1), row(2), nanchuan_row(3)]
    first = await _import(rows)
    assert (first.rows, first.inserted, first.updated, first.unchanged) == (3, 3, 0, 0)
    assert first.revision == 1 == await catalog.current_revision()
    again = await _import(rows)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    assert again.revision == 1 == await catalog.current_revision()  # counters' ETags hold
    assert set((await _revisions()).values()) == {1}


async def test_only_new_and_changed_products_get_the_new_revision(db: str) -> None:
    await _import([row(1), row(2), row(3)])
    report = await _import([row(1), row(2, price_fen=1990), row(3), row(4)])
    assert (report.inserted, report.updated, report.unchanged) == (1, 1, 2)
    assert await _revisions() == {"T-000001": 1, "T-000002": 2, "T-000003": 1, "T-000004": 2}
    assert (await _product("T-000002")).price_fen == 1990


async def test_a_price_change_is_recorded_with_who_and_why(db: str) -> None:
    await _import([row(1), row(2)], changed_by="cli:ops", reason="list of 2026-11")
    await _import(
        [row(1), row(2, price_fen=1990), row(3)], changed_by="staff:4", reason="list of 2026-12"
    )
    changes = await ProductPriceChange.select(
        ProductPriceChange.product.certificate_no.as_alias("certificate_no"),
        ProductPriceChange.old_price_fen,
        ProductPriceChange.new_price_fen,
        ProductPriceChange.changed_by,
        ProductPriceChange.reason,
        ProductPriceChange.changed_at,
    )
    assert len(changes) == 1
    (change,) = changes
    assert {key: value for key, value in change.items() if key != "changed_at"} == {
        "certificate_no": "T-000002",
        "old_price_fen": 1880,
        "new_price_fen": 1990,
        "changed_by": "staff:4",
        "reason": "list of 2026-12",
    }
    assert change["changed_at"] is not None


async def test_a_supplier_or_county_renamed_gives_its_products_the_new_revision(db: str) -> None:
    await _import([row(1), row(2), nanchuan_row(3)])
    renamed = await _import([row(1, supplier_name="利辛县新合作社")])
    assert (renamed.updated, renamed.unchanged) == (1, 0)
    assert await _revisions() == {"T-000001": 2, "T-000002": 2, "T-000003": 1}
    await _import([nanchuan_row(3, origin_county_name="重庆市南川区")])
    assert (await _product("T-000003")).origin_county_name == "重庆市南川区"
    assert (await _revisions())["T-000003"] == 3


async def test_a_gtin_in_the_in_store_range_is_refused(db: str) -> None:
    in_store = "2000001000007"  # prefix 20: the checkout reads it as a scale label

    with pytest.raises(InvalidInput) as rejected:
        await _import([row(1), row(2, gtin=in_store)])

    assert rejected.value.extra["errors"] == [
        {
            "line": 3,
            "reason": "gtin is an in-store number (prefix 20-29):"
            " the checkout reads it as a scale label",
        }
    ]
    assert await Product.count() == 0


async def test_a_file_with_bad_rows_changes_nothing(db: str) -> None:
    await _import([row(1), row(2), nanchuan_row(3)])
    before = await _snapshot()
    changed_and_bad = [
        row(1, price_fen=9990, status="revoked"),
        row(2, unit="box"),
        nanchuan_row(3, origin_county_name="南川"),
        row(4),
        row(5, valid_from="2028-01-01"),
    ]
    with pytest.raises(InvalidInput) as caught:
        await _import(changed_and_bad)
    assert caught.value.code == "catalog_rejected"
    assert [e["line"] for e in caught.value.extra["errors"]] == [3, 6]
    assert await _snapshot() == before


async def test_a_failure_while_writing_rolls_everything_back(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _import([row(1)])
    before = await _snapshot()

    def boom(phase: str, done: int, total: int) -> None:
        if phase == "write":
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        await _import([row(1, price_fen=1), nanchuan_row(2)], progress=boom)
    assert await _snapshot() == before


@pytest.mark.parametrize(
    "changes",
    [
        {"status": "revoked", "status_notice": "撤销公告〔2026〕5号"},
        {"status": "suspended", "status_notice": "暂停公告〔2026〕17号"},
        {"valid_until": "2026-06-14"},
    ],
)
async def test_a_revoked_suspended_or_expired_certificate_stops_counting(
    db: str, changes: dict[str, str]
) -> None:
    await _import([row(1), row(2)])
    assert (await _product("T-000001")).certified_on(SALE_DAY)
    await _import([row(1, **changes), row(2)])
    product = await _product("T-000001")
    assert not product.certified_on(SALE_DAY)
    assert product.status_notice == changes.get("status_notice", "")
    assert (await _product("T-000002")).certified_on(SALE_DAY)


@pytest.mark.parametrize("status", ["active", "suspended"])
async def test_an_older_file_cannot_bring_a_revoked_certificate_back(db: str, status: str) -> None:
    revoked = {"status": "revoked", "status_notice": "撤销公告〔2026〕5号"}
    await _import([row(1), row(2)])
    await _import([row(1, **revoked), row(2)])
    before = await _snapshot()
    with pytest.raises(InvalidInput) as rejected:
        await _import([row(1, status=status), row(2, price_fen=1)])
    assert rejected.value.extra["errors"] == [
        {
            "line": 2,
            "reason": f"certificate T-000001 was revoked and cannot become {status} again:"
            " revocation by the certification authority is final",
        }
    ]
    assert await _snapshot() == before


async def test_a_revoked_certificate_may_be_listed_again_as_revoked(db: str) -> None:
    await _import([row(1, status="revoked")])
    report = await _import([row(1, status="revoked", status_notice="撤销公告〔2026〕5号")])
    assert report.updated == 1
    assert (await _product("T-000001")).status_notice == "撤销公告〔2026〕5号"


async def test_rows_may_name_a_certifying_county_already_in_the_catalog(db: str) -> None:
    await _import([nanchuan_row(1)])
    report = await _import([row(2, certifying_county_code=NANCHUAN)])
    assert report.inserted == 1
    assert (await _product("T-000002")).certifying_county_code == NANCHUAN


async def test_products_read_with_origin_supplier_and_certificate(db: str) -> None:
    await _import([row(1), row(2, gtin="036000291452")])
    product = await _product("T-000001")
    assert (product.origin_county_code, product.origin_county_name) == (LIXIN, "利辛县")
    assert (product.province_name, product.certifying_county_code) == ("安徽省", LIXIN)
    assert (product.supplier_credit_code, product.gtin) == (credit_code(), gtin(1))
    assert product.quality_labels == ["green", "gi"]
    assert product.name_initials == "lxxpgymt"
    assert product.updated_at.utcoffset() == timedelta(0)
    found = await catalog.products_by_gtin("036000291452")
    assert [p.certificate_no for p in found] == ["T-000002"]
    assert [p.certificate_no for p in await catalog.products_by_gtin("0036000291452")] == [
        "T-000002"
    ]
    assert await catalog.products_by_gtin("not-a-code") == []
    assert await catalog.product_ids_by_certificate(["nope"]) == {}


async def test_a_gtin14_of_an_ean8_product_finds_it(db: str) -> None:
    await _import([row(1), row(2, gtin="96385074")])
    found = await catalog.products_by_gtin("00000096385074")
    assert [p.certificate_no for p in found] == ["T-000002"]


async def test_an_unknown_product_is_not_found(db: str) -> None:
    with pytest.raises(NotFound):
        await catalog.get_product(999_999)


async def test_a_file_name_longer_than_a_reason_holds_is_clipped_in_the_price_change(
    db: str, tmp_path: Path
) -> None:
    await _import([row(1)])
    path = tmp_path / f"{'x' * 250}.csv"  # as long as a file name gets
    path.write_bytes(csv_bytes([row(1, price_fen=1990)]))
    assert (await catalog.import_catalog_file(path, changed_by="test")).updated == 1
    (change,) = await ProductPriceChange.select(ProductPriceChange.reason)
    assert change["reason"] == f"catalog import {path.name}"[:255]


async def test_a_csv_line_of_white_space_only_is_skipped_like_a_blank_one(db: str) -> None:
    data = csv_bytes([row(1), row(2)]) + "  \n\u3000\n".encode()  # spaces, an ideographic one
    report = await catalog.import_catalog(data, fmt="csv", changed_by="test")
    assert report.rows == 2


async def test_a_csv_row_of_empty_fields_is_skipped_like_a_blank_line(db: str) -> None:
    # Excel writes ",,,,," for rows whose cells were cleared but not deleted.
    cleared = b"," * (len(COLUMNS) - 1)
    data = csv_bytes([row(1)]) + cleared + b"\n" + cleared + b"\r\n"
    report = await catalog.import_catalog(data, fmt="csv", changed_by="test")
    assert (report.rows, report.inserted) == (1, 1)


async def test_files_are_read_by_their_suffix(db: str, tmp_path: Path) -> None:
    ndjson = tmp_path / "list.ndjson"
    ndjson.write_bytes(jsonl_bytes([row(1)]))
    assert (await catalog.import_catalog_file(ndjson, changed_by="test")).inserted == 1
    xlsx = tmp_path / "list.xlsx"
    xlsx.write_bytes(b"")
    with pytest.raises(InvalidInput) as caught:
        await catalog.import_catalog_file(xlsx, changed_by="test")
    assert caught.value.code == "catalog_format"


async def test_the_demo_catalog_imports_with_one_suspended_and_one_revoked(db: str) -> None:
    calls: list[str] = []
    report = await catalog.import_catalog_file(
        DEMO, progress=lambda phase, *_: calls.append(phase), changed_by="test"
    )
    assert report.inserted == report.rows >= 10
    assert "write" in calls
    products = [await _product(no) for no in (await _revisions())]
    assert sorted(p.status for p in products if p.status != "active") == ["revoked", "suspended"]
    assert {p.unit for p in products} == {"piece", "kg"}
    assert all(p.gtin.startswith("69") for p in products if p.gtin)
