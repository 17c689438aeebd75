"""Optional columns, on SQLite and PostgreSQL: left out keeps what the catalog holds."""

from __future__ import annotations

from typing import Any

import pytest

from pos.catalog import service as catalog
from pos.catalog.columns import COLUMNS
from pos.catalog.schemas import ImportReport
from pos.catalog.tables import Product, Supplier
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

# The Lixin cooperative is based in Nanchuan, so its county differs from its rows' origin.
FULL = [
    row(1, supplier_county_code=NANCHUAN),
    row(2, supplier_county_code=NANCHUAN),
    nanchuan_row(3),
]


def _without(rows: list[dict[str, Any]], *left_out: str) -> bytes:
    columns = [column for column in COLUMNS if column not in left_out]
    return csv_bytes(({k: v for k, v in r.items() if k in columns} for r in rows), columns)


async def _import(data: bytes, fmt: Any = "csv") -> ImportReport:
    return await catalog.import_catalog(data, fmt=fmt, changed_by="test")


async def _stored() -> dict[str, Any]:
    """The values the optional columns set, by certificate and by supplier."""
    products = await Product.select(
        Product.certificate_no, Product.gtin, Product.shelf_life_days
    ).order_by(Product.certificate_no)
    suppliers = await Supplier.select(
        Supplier.credit_code, Supplier.name_en, Supplier.county._.code.as_alias("county")
    ).order_by(Supplier.credit_code)
    return {
        "products": {p["certificate_no"]: (p["gtin"], p["shelf_life_days"]) for p in products},
        "suppliers": {s["credit_code"]: (s["name_en"], s["county"]) for s in suppliers},
    }


async def _prices() -> dict[str, int]:
    rows = await Product.select(Product.certificate_no, Product.price_fen)
    return {r["certificate_no"]: r["price_fen"] for r in rows}


async def test_a_full_file_stores_every_optional_column(db: str) -> None:
    await _import(csv_bytes(FULL))
    assert await _stored() == {
        "products": {
            "T-000001": (gtin(1), 365),
            "T-000002": (gtin(2), 365),
            "T-000003": (gtin(3), 365),
        },
        "suppliers": {
            credit_code(): ("Lixin Dandelion Cooperative", NANCHUAN),
            credit_code(NANCHUAN, 2): ("", NANCHUAN),
        },
    }


@pytest.mark.parametrize(
    "left_out",
    [
        ("gtin",),
        ("shelf_life_days",),
        ("supplier_name_en",),
        ("supplier_county_code",),
        ("supplier_name_en", "supplier_county_code", "gtin", "shelf_life_days"),
    ],
)
async def test_a_file_without_an_optional_column_keeps_what_the_catalog_holds(
    db: str, left_out: tuple[str, ...]
) -> None:
    await _import(csv_bytes(FULL))
    before = await _stored()
    # A weekly delta: new prices for the same certificates, exported without the column.
    delta = [{**r, "price_fen": 1990} for r in FULL]

    report = await _import(_without(delta, *left_out))

    assert (report.updated, report.unchanged) == (3, 0)
    assert set((await _prices()).values()) == {1990}
    assert await _stored() == before


@pytest.mark.parametrize(
    "left_out", ["gtin", "shelf_life_days", "supplier_name_en", "supplier_county_code"]
)
async def test_a_file_leaving_out_only_an_optional_column_changes_nothing(
    db: str, left_out: str
) -> None:
    first = await _import(csv_bytes(FULL))

    again = await _import(_without(FULL, left_out))

    assert (again.updated, again.unchanged) == (0, 3)
    assert again.revision == first.revision  # counters' ETags hold


async def test_an_empty_cell_clears_the_stored_value(db: str) -> None:
    await _import(csv_bytes(FULL))
    cleared = {
        "gtin": "",
        "shelf_life_days": "",
        "supplier_name_en": "",
        "supplier_county_code": "",
    }

    await _import(csv_bytes([row(1, **cleared), row(2, **cleared)]))

    stored = await _stored()
    assert stored["products"]["T-000001"] == (None, None)
    assert stored["products"]["T-000002"] == (None, None)
    assert stored["products"]["T-000003"] == (gtin(3), 365)  # not in the file
    # An empty supplier_county_code is the origin county, as on a first import.
    assert stored["suppliers"][credit_code()] == ("", LIXIN)


async def test_new_rows_without_the_optional_columns_get_no_values(db: str) -> None:
    await _import(csv_bytes(FULL))
    new = [row(4, supplier_credit_code=credit_code(LIXIN, 5), supplier_name="新合作社")]

    await _import(
        _without(new, "supplier_name_en", "supplier_county_code", "gtin", "shelf_life_days")
    )

    stored = await _stored()
    assert stored["products"]["T-000004"] == (None, None)
    assert stored["suppliers"][credit_code(LIXIN, 5)] == ("", LIXIN)
    assert stored["products"]["T-000001"] == (gtin(1), 365)


async def test_a_json_key_left_out_keeps_and_a_null_clears(db: str) -> None:
    await _import(jsonl_bytes(FULL), "jsonl")
    delta = [
        {k: v for k, v in FULL[0].items() if k not in {"gtin", "shelf_life_days"}},
        {**FULL[1], "gtin": None, "shelf_life_days": None},
        {k: v for k, v in FULL[2].items() if k != "gtin"} | {"shelf_life_days": 90},
    ]

    await _import(jsonl_bytes(delta), "jsonl")

    assert (await _stored())["products"] == {
        "T-000001": (gtin(1), 365),
        "T-000002": (None, None),
        "T-000003": (gtin(3), 90),
    }


async def test_json_supplier_keys_left_out_keep_and_null_clears(db: str) -> None:
    await _import(jsonl_bytes(FULL), "jsonl")
    lixin = [{k: v for k, v in r.items() if k != "supplier_county_code"} for r in FULL[:2]]
    nanchuan = {**FULL[2], "supplier_name_en": None}

    await _import(jsonl_bytes([*lixin, nanchuan]), "jsonl")

    assert (await _stored())["suppliers"] == {
        credit_code(): ("Lixin Dandelion Cooperative", NANCHUAN),
        credit_code(NANCHUAN, 2): ("", NANCHUAN),
    }
