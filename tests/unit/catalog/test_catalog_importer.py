"""Reading a certified list: both formats, every reason a row is refused, and its line number."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from pos.catalog import importer
from pos.catalog.columns import (
    COLUMNS,
    OPTIONAL_COLUMNS,
    CountyRecord,
    Places,
    Products,
    SupplierRecord,
)
from pos.catalog.importer import MAX_REPORTED_ERRORS, parse_catalog
from pos.errors import InvalidInput
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

_COUNTY_DIFFERS = (
    f"county ({NANCHUAN} here, {LIXIN} there): set supplier_county_code on its rows, as without"
    " it the supplier's county is each row's origin county"
)


def _errors(data: bytes, fmt: Any = "csv", **kwargs: Any) -> list[dict[str, Any]]:
    with pytest.raises(InvalidInput) as caught:
        parse_catalog(data, fmt=fmt, **kwargs)
    assert caught.value.code == "catalog_rejected"
    errors: list[dict[str, Any]] = caught.value.extra["errors"]
    assert caught.value.extra["error_count"] == len(errors)
    return errors


def test_csv_and_jsonl_of_the_same_rows_read_the_same() -> None:
    rows = [row(1), row(2, gtin="", unit="kg", shelf_life_days=""), nanchuan_row(3)]
    from_csv = parse_catalog(csv_bytes(rows), fmt="csv")
    from_jsonl = parse_catalog(jsonl_bytes(rows), fmt="jsonl")
    assert from_csv == from_jsonl
    assert len(from_csv.products) == 3


def test_a_row_becomes_a_product_its_place_and_its_supplier() -> None:
    catalog = parse_catalog(
        csv_bytes([row(1, supplier_credit_code=credit_code().lower())]), fmt="csv"
    )
    product = catalog.products[0]
    assert product.certificate_no == "T-000001"
    assert (product.valid_from, product.valid_until) == (date(2026, 1, 1), date(2027, 12, 31))
    assert (product.certifying_county, product.origin_county) == (LIXIN, LIXIN)
    assert product.supplier == credit_code()
    assert (product.gtin, product.price_fen, product.shelf_life_days) == (gtin(1), 1880, 365)
    assert product.quality_labels == "green,gi"
    assert product.name_initials == "lxxpgymt"
    assert catalog.places.counties == {LIXIN: CountyRecord("利辛县", "34")}
    assert catalog.places.provinces == {"34": "安徽省"}
    assert catalog.suppliers == {
        credit_code(): SupplierRecord(
            "利辛县蒲公英种植专业合作社", "Lixin Dandelion Cooperative", LIXIN, False
        )
    }
    assert (product.gtin_left_out, product.shelf_life_days_left_out) == (False, False)


def test_values_are_trimmed_and_empty_optionals_are_none() -> None:
    catalog = parse_catalog(
        csv_bytes([row(1, name_zh="  利辛县蒲公英面条 ", gtin=" ", shelf_life_days="")]), fmt="csv"
    )
    product = catalog.products[0]
    assert (product.name_zh, product.gtin, product.shelf_life_days) == (
        "利辛县蒲公英面条",
        None,
        None,
    )


def test_upca_is_stored_as_ean13_and_labels_take_either_separator() -> None:
    catalog = parse_catalog(
        csv_bytes([row(1, gtin="036000291452", quality_labels=" organic | gi ;")]), fmt="csv"
    )
    assert catalog.products[0].gtin == "0036000291452"
    assert catalog.products[0].quality_labels == "organic,gi"


def test_optional_columns_may_be_left_out_and_are_marked_so() -> None:
    columns = [c for c in COLUMNS if c not in OPTIONAL_COLUMNS]
    rows = [{k: v for k, v in row(1).items() if k in columns}]
    catalog = parse_catalog(csv_bytes(rows, columns), fmt="csv")
    product = catalog.products[0]
    assert (product.gtin, product.shelf_life_days) == (None, None)
    assert (product.gtin_left_out, product.shelf_life_days_left_out) == (True, True)
    supplier = catalog.suppliers[credit_code()]
    assert (supplier.name_en, supplier.county_code, supplier.county_left_out) == (None, LIXIN, True)


def test_an_empty_optional_value_is_not_left_out() -> None:
    empty = {"gtin": "", "shelf_life_days": "", "supplier_name_en": "", "supplier_county_code": ""}
    catalog = parse_catalog(csv_bytes([row(1, **empty)]), fmt="csv")
    product = catalog.products[0]
    assert (product.gtin, product.gtin_left_out) == (None, False)
    assert (product.shelf_life_days, product.shelf_life_days_left_out) == (None, False)
    supplier = catalog.suppliers[credit_code()]
    assert (supplier.name_en, supplier.county_code, supplier.county_left_out) == ("", LIXIN, False)


def test_a_json_key_missing_from_one_object_is_left_out_of_that_row_only() -> None:
    rows = [
        {k: v for k, v in row(1).items() if k != "gtin"},
        row(2, gtin=None),
        {k: v for k, v in row(3).items() if k != "shelf_life_days"},
    ]
    products = parse_catalog(jsonl_bytes(rows), fmt="jsonl").products
    assert [(p.gtin, p.gtin_left_out) for p in products] == [
        (None, True),
        (None, False),
        (gtin(3), False),
    ]
    assert [p.shelf_life_days_left_out for p in products] == [False, False, True]


@pytest.mark.parametrize(
    ("key", "differs"),
    [
        ("supplier_name_en", "supplier_name_en"),
        ("supplier_county_code", "supplier_county_code, which one of the two leaves out"),
    ],
)
def test_rows_of_a_supplier_leave_out_the_same_json_keys(key: str, differs: str) -> None:
    rows = [row(1), {k: v for k, v in row(2).items() if k != key}]
    errors = _errors(jsonl_bytes(rows), "jsonl")
    reason = f"supplier {credit_code()} differs from line 1 in {differs}"
    assert errors == [{"line": 2, "reason": reason}]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"certificate_no": ""}, "certificate_no is empty"),
        ({"certificate_no": "X" * 41}, "certificate_no is longer than 40 characters"),
        ({"scheme": ""}, "scheme is empty"),
        ({"status": "expired"}, "status must be one of active, suspended, revoked"),
        ({"status_notice": "公" * 81}, "status_notice is longer than 80 characters"),
        ({"valid_from": "2026/01/01"}, "valid_from must be a date YYYY-MM-DD"),
        ({"valid_until": "2026-02-30"}, "valid_until must be a date YYYY-MM-DD"),
        ({"valid_from": "2028-01-01"}, "valid_from is after valid_until"),
        ({"certifying_county_code": "34162"}, "certifying_county_code must be 6 digits"),
        ({"origin_county_code": "34162x"}, "origin_county_code must be 6 digits"),
        (
            {"origin_county_code": "991623", "supplier_county_code": LIXIN},
            "origin_county_code 991623 is no county's code (GB/T 2260): 99 is no province",
        ),
        (
            {"origin_county_code": "340000", "supplier_county_code": LIXIN},
            "origin_county_code 340000 is no county's code (GB/T 2260): it is a province's",
        ),
        ({"origin_county_name": ""}, "origin_county_name is empty"),
        ({"province_name": " "}, "province_name is empty"),
        ({"supplier_credit_code": credit_code()[:17] + "0"}, "supplier_credit_code is not a valid"),
        ({"supplier_name": ""}, "supplier_name is empty"),
        ({"supplier_name_en": "x" * 129}, "supplier_name_en is longer than 128 characters"),
        (
            {"supplier_credit_code": credit_code(LIXIN, 2), "supplier_county_code": "5001"},
            "supplier_county_code must be 6 digits",
        ),
        ({"gtin": "6901234567893"}, "gtin is not an EAN-13, EAN-8 or UPC-A"),
        ({"unit": "box"}, "unit must be one of piece, kg"),
        ({"price_fen": "12.50"}, "price_fen must be a whole number from 1 to"),
        ({"price_fen": "0"}, "price_fen must be a whole number from 1 to"),
        ({"price_fen": ""}, "price_fen must be a whole number from 1 to"),
        ({"name_zh": ""}, "name_zh is empty"),
        ({"name_en": "x" * 129}, "name_en is longer than 128 characters"),
        ({"category": "x" * 41}, "category is longer than 40 characters"),
        ({"quality_labels": "green,gi"}, "quality_labels must be labels separated by ; or |"),
        ({"quality_labels": "x" * 121}, "quality_labels must be labels separated by ; or |"),
        ({"poverty_help": "x" * 4001}, "poverty_help is longer than 4000 characters"),
        ({"shelf_life_days": "-3"}, "shelf_life_days must be a whole number from 0 to"),
        ({"image_url": "javascript:alert(1)"}, "image_url must be a path starting with /"),
        ({"image_url": "http://img.example.cn/a.jpg"}, "image_url must be a path starting with /"),
        ({"image_url": "//img.example.cn/a.jpg"}, "image_url must be a path starting with /"),
    ],
)
def test_each_bad_value_is_named_with_its_line(changes: dict[str, Any], reason: str) -> None:
    errors = _errors(csv_bytes([row(1), row(2, **changes)]))
    assert len(errors) == 1
    assert errors[0]["line"] == 3
    assert errors[0]["reason"].startswith(reason)


def test_every_problem_of_a_line_is_named() -> None:
    errors = _errors(csv_bytes([row(1, unit="box", price_fen="free", name_zh="")]))
    assert errors == [
        {
            "line": 2,
            "reason": "name_zh is empty; unit must be one of piece, kg; "
            f"price_fen must be a whole number from 1 to {2**31 - 1}",
        }
    ]


def test_csv_lines_count_the_header_blank_lines_and_quoted_line_breaks() -> None:
    data = b"\n" + csv_bytes([row(1, origin_text="第一行\n第二行"), row(2)])  # blank before it
    data += b"\n" + csv_bytes([row(3, unit="box")]).split(b"\n", 1)[1]
    assert [e["line"] for e in _errors(data)] == [7]


def test_jsonl_lines_count_from_one_including_blank_lines() -> None:
    data = jsonl_bytes([row(1)]) + b"\n" + jsonl_bytes([row(2, unit="box")])
    assert [e["line"] for e in _errors(data, "jsonl")] == [3]


def test_a_certificate_may_appear_once() -> None:
    errors = _errors(csv_bytes([row(1), row(2), row(1)]))
    assert errors == [{"line": 4, "reason": "certificate_no repeats line 2"}]


def test_a_revoked_certificate_is_named_on_each_line_that_would_bring_it_back() -> None:
    rows = [row(1), row(2, status="suspended"), row(3, status="revoked"), row(4)]
    errors = _errors(csv_bytes(rows), revoked=frozenset({"T-000002", "T-000003", "T-000004"}))
    final = "revocation by the certification authority is final"
    assert errors == [
        {"line": 3, "reason": f"certificate T-000002 was revoked and cannot become suspended"
                              f" again: {final}"},
        {"line": 5, "reason": f"certificate T-000004 was revoked and cannot become active"
                              f" again: {final}"},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"origin_county_name": "利辛"}, f"county {LIXIN} differs from line 2"),
        ({"province_name": "安徽"}, "province 34 differs from line 2"),
        (
            {"supplier_name": "另一家"},
            f"supplier {credit_code()} differs from line 2 in supplier_name",
        ),
        (
            {"supplier_name": "另一家", "supplier_name_en": ""},
            f"supplier {credit_code()} differs from line 2 in supplier_name and supplier_name_en",
        ),
        (
            {"supplier_county_code": NANCHUAN},
            f"supplier {credit_code()} differs from line 2 in {_COUNTY_DIFFERS}",
        ),
    ],
)
def test_shared_things_are_described_alike_on_every_row(
    changes: dict[str, Any], reason: str
) -> None:
    errors = _errors(csv_bytes([row(1), nanchuan_row(2), row(3, **changes)]))
    assert errors == [{"line": 4, "reason": reason}]


def test_a_supplier_whose_rows_differ_only_in_origin_county_is_told_to_set_its_county() -> None:
    noodles = row(1)
    # The cooperative also sells Nanchuan's bamboo shoots; the rows leave supplier_county_code
    # empty, so each row's supplier county is its origin county.
    supplier = ("supplier_credit_code", "supplier_name", "supplier_name_en")
    shoots = nanchuan_row(2, **{key: noodles[key] for key in supplier})

    errors = _errors(csv_bytes([noodles, shoots]))

    reason = f"supplier {credit_code()} differs from line 2 in {_COUNTY_DIFFERS}"
    assert errors == [{"line": 3, "reason": reason}]


def test_certifying_and_supplier_counties_must_be_known() -> None:
    rows = [
        row(1, certifying_county_code=NANCHUAN),
        row(2, supplier_credit_code=credit_code(LIXIN, 2), supplier_county_code=NANCHUAN),
    ]
    errors = _errors(csv_bytes(rows))
    assert [e["line"] for e in errors] == [2, 3]
    assert errors[0]["reason"].startswith(f"certifying_county_code {NANCHUAN} is neither")
    assert errors[1]["reason"].startswith(f"supplier_county_code {NANCHUAN} is neither")


def test_counties_known_from_the_file_or_the_catalog_may_be_named() -> None:
    in_file = [row(1, certifying_county_code=NANCHUAN), nanchuan_row(2)]
    assert len(parse_catalog(csv_bytes(in_file), fmt="csv").products) == 2
    known = parse_catalog(
        csv_bytes([row(1, certifying_county_code=NANCHUAN)]),
        fmt="csv",
        known_counties=frozenset({NANCHUAN}),
    )
    assert known.products[0].certifying_county == NANCHUAN


@pytest.mark.parametrize(
    ("data", "line", "reason"),
    [
        (b"", 1, "the file is empty"),
        (csv_bytes([row(1)]).replace(b"origin_text", b"origin"), 1, "missing columns: origin_text"),
        (b"nonsense," + csv_bytes([row(1)]), 1, "unknown columns: nonsense"),
        (csv_bytes([row(1)]).replace(b"scheme", b"gtin"), 1, "missing columns: scheme"),
        (csv_bytes([row(1)]) + b"a,b\n", 3, "has 2 fields, the header has 26"),
        (csv_bytes([row(1)]) + b'"T-2,"x\n', 3, "unreadable CSV"),
        (csv_bytes([row(1)]) + b"\xff\n", 3, "not UTF-8 text"),
        ("name_zh\n蒲公英面条\n".encode("gb18030"), 2, "not UTF-8 text: save the file as UTF-8"),
        (b"\n,,\n" + csv_bytes([row(1)]).replace(b"\n", b",\n", 1), 3, "unknown columns: one"),
        # Unreadable headers: JSON Lines sent as CSV, an unclosed quote, a field past the limit.
        (b'{"certificate_no":"T-1","scheme":"x"}\n', 1, "unreadable CSV"),
        (b'"certificate_no,scheme\n' + csv_bytes([row(1)]), 1, "unreadable CSV"),
        (b'\n"certificate_no,scheme\n' + csv_bytes([row(1)]), 2, "unreadable CSV"),
        (b'"' + b"c" * 200_000 + b'",' + csv_bytes([row(1)]), 1, "unreadable CSV"),
    ],
)
def test_unreadable_csv_is_refused_with_the_line(data: bytes, line: int, reason: str) -> None:
    errors = _errors(data)
    assert errors[0]["line"] == line
    assert errors[0]["reason"].startswith(reason)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "not JSON"),
        ("[" * 100_000, "not JSON"),  # nested past Python's recursion limit
        ("[1, 2]", "not a JSON object"),
        ('{"price_fen": 12.5}', "missing keys"),
    ],
)
def test_unreadable_json_lines_are_named(line: str, reason: str) -> None:
    errors = _errors(jsonl_bytes([row(1)]) + line.encode() + b"\n", "jsonl")
    assert errors[0]["line"] == 2
    assert errors[0]["reason"].startswith(reason)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"price_fen": 18.8}, "price_fen must be a string or an integer"),
        ({"shelf_life_days": True}, "shelf_life_days must be a string or an integer"),
        ({"colour": "red"}, "unknown keys: colour"),
    ],
)
def test_json_values_are_text_or_integers(changes: dict[str, Any], reason: str) -> None:
    assert _errors(jsonl_bytes([row(1, **changes)]), "jsonl") == [{"line": 1, "reason": reason}]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_nul_in_a_field_is_refused_with_its_line(fmt: Any) -> None:
    rows = [row(1), row(2, name_en="Noodles\x00")]
    data = csv_bytes(rows) if fmt == "csv" else jsonl_bytes(rows)

    assert _errors(data, fmt) == [
        {"line": 3 if fmt == "csv" else 2, "reason": "name_en holds a NUL character"}
    ]


def test_json_integers_and_nulls_are_read() -> None:
    catalog = parse_catalog(
        jsonl_bytes([row(1, price_fen=990, gtin=None, shelf_life_days=None, status_notice=None)]),
        fmt="jsonl",
    )
    product = catalog.products[0]
    assert (product.price_fen, product.gtin, product.shelf_life_days) == (990, None, None)


def test_a_line_separator_inside_a_json_string_does_not_split_the_line() -> None:
    catalog = parse_catalog(jsonl_bytes([row(1, origin_text="一\u2028二")]), fmt="jsonl")
    assert catalog.products[0].origin_text == "一\u2028二"


def test_a_bom_is_ignored() -> None:
    assert len(parse_catalog(b"\xef\xbb\xbf" + csv_bytes([row(1)]), fmt="csv").products) == 1


def test_reported_errors_are_capped_but_counted() -> None:
    bad = MAX_REPORTED_ERRORS + 5
    with pytest.raises(InvalidInput) as caught:
        parse_catalog(csv_bytes([row(n, unit="box") for n in range(bad)]), fmt="csv")
    assert len(caught.value.extra["errors"]) == MAX_REPORTED_ERRORS
    assert caught.value.extra["error_count"] == bad
    assert str(bad) in caught.value.detail


def test_products_come_in_slices_after_the_places(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer, "SLICE_ROWS", 2)
    calls: list[tuple[str, int, int]] = []
    parts = list(
        importer.parse_parts(
            csv_bytes([row(n) for n in range(1, 6)]),
            fmt="csv",
            progress=lambda *call: calls.append(call),
        )
    )
    assert isinstance(parts[0], Places)
    assert all(isinstance(part, Products) for part in parts[1:])
    assert [[p.certificate_no[-1] for p in part.records] for part in parts[1:]] == [
        ["1", "2"],
        ["3", "4"],
        ["5"],
    ]
    assert calls == [("read", 6, 6), ("check", 2, 5), ("check", 4, 5), ("check", 5, 5)]
    assert [list(part.suppliers) for part in parts[1:]] == [[credit_code()], [], []]


def test_a_supplier_is_held_to_its_first_row_across_slices(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(importer, "SLICE_ROWS", 2)
    rows = [row(1), row(2), row(3, supplier_name="别名"), row(4, supplier_name="别名")]
    errors = _errors(csv_bytes(rows))
    assert errors == [
        {"line": 4, "reason": f"supplier {credit_code()} differs from line 2 in supplier_name"},
        {"line": 5, "reason": f"supplier {credit_code()} differs from line 2 in supplier_name"},
    ]


def test_no_part_is_given_once_a_bad_row_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer, "SLICE_ROWS", 2)
    parts = importer.parse_parts(csv_bytes([row(1), row(2), row(3, unit="box"), row(4)]), fmt="csv")
    assert isinstance(next(parts), Places)
    assert len(next(parts).records) == 2
    with pytest.raises(InvalidInput) as caught:
        next(parts)
    assert caught.value.extra["errors"] == [{"line": 4, "reason": "unit must be one of piece, kg"}]


def test_a_row_bad_in_its_places_stops_every_part() -> None:
    parts = importer.parse_parts(csv_bytes([row(1, province_name="")]), fmt="csv")
    with pytest.raises(InvalidInput):
        next(parts)


def test_jsonl_progress_counts_the_lines_of_the_file() -> None:
    calls: list[tuple[str, int, int]] = []
    parse_catalog(
        jsonl_bytes([row(n) for n in range(1, 4)]),
        fmt="jsonl",
        progress=lambda *call: calls.append(call),
    )
    assert calls[0] == ("read", 3, 3)
