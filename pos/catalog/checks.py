"""The checks on a catalog file's columns, and on its rows against each other (pure).

Checks run a column at a time: each distinct value is checked once, and a column whose values
all pass costs a few passes in C, which keeps the national list to about two seconds. Rows are
revisited only to name the ones that fail. Places are checked over the whole file first; the
products and their suppliers can then be checked a slice at a time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Sequence
from datetime import date
from typing import Any, TypeVar

from piccolo.columns import Varchar

from pos.catalog.certification import REVOKED_STATUS, undoes_revocation
from pos.catalog.codes import (
    canonical_gtin,
    county_code_problem,
    is_in_store_number,
    is_valid_credit_code,
    is_valid_gtin,
)
from pos.catalog.columns import (
    Columns,
    CountyRecord,
    LeftOut,
    Places,
    Problems,
    ProductRecord,
    Products,
    SupplierRecord,
)
from pos.catalog.initials import name_initials
from pos.catalog.tables import County, Product, Province, Supplier
from pos.db import MAX_INTEGER

__all__ = ["MAX_FEN", "MAX_SHELF_DAYS", "STATUSES", "UNITS", "check_places", "check_products"]

STATUSES = ("active", "suspended", "revoked")
UNITS = ("piece", "kg")
MAX_FEN = MAX_INTEGER  # prices are INTEGER columns
MAX_SHELF_DAYS = 36_500
MAX_TEXT = 4000

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_LABEL_SEPARATOR = re.compile(r"[;|]")
_T = TypeVar("_T")
_K = TypeVar("_K", bound=Hashable)


def _limit(column: Varchar) -> int:
    return MAX_TEXT if column.length is None else int(column.length)


# Free-text columns: (key, the most characters it may have, whether it must have a value).
_PLACE_TEXTS = (
    ("origin_county_name", _limit(County.name_zh), True),
    ("province_name", _limit(Province.name_zh), True),
)
_SUPPLIER_TEXTS = (
    ("supplier_name", _limit(Supplier.name_zh), True),
    ("supplier_name_en", _limit(Supplier.name_en), False),
)
_PRODUCT_TEXTS = (
    ("certificate_no", _limit(Product.certificate_no), True),
    ("scheme", _limit(Product.scheme), True),
    ("status_notice", _limit(Product.status_notice), False),
    ("name_zh", _limit(Product.name_zh), True),
    ("name_en", _limit(Product.name_en), False),
    ("category", _limit(Product.category), False),
    ("poverty_help", MAX_TEXT, False),
    ("origin_text", MAX_TEXT, False),
    ("traceability", MAX_TEXT, False),
    ("image_url", _limit(Product.image_url), False),
)
_LABELS_LIMIT = _limit(Product.quality_labels)
_INITIALS_LIMIT = _limit(Product.name_initials)


def _texts(
    columns: Columns, specs: Sequence[tuple[str, int, bool]], problems: Problems
) -> dict[str, Sequence[str]]:
    texts: dict[str, Sequence[str]] = {}
    for key, limit, required in specs:
        values = texts[key] = columns[key]
        if required and not all(values):
            problems.add((i for i, v in enumerate(values) if not v), f"{key} is empty")
        if values and max(map(len, values)) > limit:
            problems.add(
                (i for i, v in enumerate(values) if len(v) > limit),
                f"{key} is longer than {limit} characters",
            )
    return texts


def _converted(
    values: Sequence[str], convert: Callable[[str], _T], reason: str, problems: Problems
) -> list[_T]:
    """`convert` applied to each distinct value once; rows whose value raises ValueError fail."""
    table: dict[str, _T] = {}
    bad = set()
    for value in set(values):
        try:
            table[value] = convert(value)
        except ValueError:
            bad.add(value)
    if bad:
        problems.add((i for i, v in enumerate(values) if v in bad), reason)
    return list(map(table.get, values))  # type: ignore[arg-type]


def _one_of(options: Sequence[str]) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in options:
            raise ValueError(value)
        return value

    return check


def _county_code(value: str) -> str:
    if not (len(value) == 6 and value.isdigit() and value.isascii()):
        raise ValueError(value)
    return value


def _date(value: str) -> date:
    if not _DATE.fullmatch(value):
        raise ValueError(value)
    return date.fromisoformat(value)


def _whole_number(low: int, high: int, *, optional: bool = False) -> Callable[[str], int | None]:
    def check(value: str) -> int | None:
        if optional and not value:
            return None
        if not (value.isdigit() and value.isascii() and len(value) < 12):
            raise ValueError(value)
        if not low <= int(value) <= high:
            raise ValueError(value)
        return int(value)

    return check


def _credit_code(value: str) -> str:
    if not is_valid_credit_code(value):
        raise ValueError(value)
    return value


def _gtin(value: str) -> str | None:
    if not value:
        return None
    if not is_valid_gtin(value):
        raise ValueError(value)
    return canonical_gtin(value)


def _labels(value: str) -> str:
    labels = [label.strip() for label in _LABEL_SEPARATOR.split(value) if label.strip()]
    joined = ",".join(labels)
    if any("," in label for label in labels) or len(joined) > _LABELS_LIMIT:
        raise ValueError(value)
    return joined


def _image_url(value: str) -> str:
    # Pages allow images from this server and https ones; an http picture is mixed content.
    on_this_server = value.startswith("/") and not value.startswith("//")
    if value and not (on_this_server or value.startswith("https://")):
        raise ValueError(value)
    return value


def check_places(columns: Columns, known_counties: frozenset[str], problems: Problems) -> Places:
    """Check the whole file's provinces, counties and county references, and that no
    certificate repeats."""
    texts = _texts(columns, _PLACE_TEXTS, problems)
    origin = columns["origin_county_code"]
    valid = _converted(origin, _county_code, "origin_county_code must be 6 digits", problems)
    _check_divisions(valid, problems)
    provinces = [code[:2] for code in origin]
    _check_unique(columns["certificate_no"], problems)
    _check_agree("county", origin, texts["origin_county_name"], problems)
    _check_agree("province", provinces, texts["province_name"], problems)
    described = set(origin) | known_counties
    for key, codes in (
        ("certifying_county_code", columns["certifying_county_code"]),
        ("supplier_county_code", _supplier_counties(columns)),
    ):
        valid = _converted(codes, _county_code, f"{key} must be 6 digits", problems)
        _check_known(key, valid, described, problems)
    counties = dict(zip(origin, texts["origin_county_name"], strict=True))
    return Places(
        rows=len(origin),
        provinces=dict(zip(provinces, texts["province_name"], strict=True)),
        counties={code: CountyRecord(name, code[:2]) for code, name in counties.items()},
    )


def _check_divisions(codes: Sequence[str | None], problems: Problems) -> None:
    """Origin counties, which the import creates, must have a county's code (None: not 6
    digits, already named): a made-up province would show in the figures by province."""
    why = {code: county_code_problem(code) for code in set(codes) if code is not None}
    if any(why.values()):
        reasons = [None if code is None else why[code] for code in codes]
        problems.add(
            (i for i, reason in enumerate(reasons) if reason),
            lambda i: (
                f"origin_county_code {codes[i]} is no county's code (GB/T 2260): {reasons[i]}"
            ),
        )


def _supplier_counties(columns: Columns) -> list[str]:
    own, origin = columns["supplier_county_code"], columns["origin_county_code"]
    return [code or home for code, home in zip(own, origin, strict=True)]


def _check_suppliers(
    columns: Columns,
    left_out: LeftOut,
    seen: dict[str, tuple[SupplierRecord, int]],
    problems: Problems,
) -> dict[str, SupplierRecord]:
    """The suppliers no earlier slice described; every row must describe its supplier as the
    first row with it did. `seen` holds each supplier's first description and line."""
    texts = _texts(columns, _SUPPLIER_TEXTS, problems)
    codes = list(map(str.upper, columns["supplier_credit_code"]))
    reason = "supplier_credit_code is not a valid unified social credit code"
    _converted(codes, _credit_code, reason, problems)
    names_en: Sequence[str | None] = texts["supplier_name_en"]
    if "supplier_name_en" in left_out:
        flags = zip(names_en, left_out["supplier_name_en"], strict=True)
        names_en = [None if out else name for name, out in flags]
    values = list(
        map(
            SupplierRecord,
            texts["supplier_name"],
            names_en,
            _supplier_counties(columns),
            _flags(left_out, "supplier_county_code", len(codes)),
        )
    )
    new = {}
    for code, index in _first_rows(codes).items():
        if code not in seen:
            seen[code] = (values[index], problems.lines[index])
            new[code] = values[index]
    rows = list(zip(codes, values, strict=True))
    bad = {(code, value) for code, value in set(rows) if seen[code][0] != value}
    if bad:
        problems.add(
            (i for i, row in enumerate(rows) if row in bad),
            lambda i: _supplier_differs(codes[i], values[i], *seen[codes[i]]),
        )
    return new


def _supplier_differs(code: str, value: SupplierRecord, first: SupplierRecord, line: int) -> str:
    """Why a row's supplier differs from its first description, field by field."""
    fields = [
        column
        for column, differs in (
            ("supplier_name", value.name_zh != first.name_zh),
            ("supplier_name_en", value.name_en != first.name_en),
        )
        if differs
    ]
    if value.county_code != first.county_code:
        fields.append(
            f"county ({value.county_code} here, {first.county_code} there): set"
            " supplier_county_code on its rows, as without it the supplier's county is each"
            " row's origin county"
        )
    elif value.county_left_out != first.county_left_out:
        fields.append("supplier_county_code, which one of the two leaves out")
    return f"supplier {code} differs from line {line} in {' and '.join(fields)}"


def check_products(
    columns: Columns,
    left_out: LeftOut,
    seen_suppliers: dict[str, tuple[SupplierRecord, int]],
    problems: Problems,
    revoked: frozenset[str] = frozenset(),
) -> Products:
    """A slice of the file's products, whose places `check_places` has checked, with the
    suppliers first described in it (see `_check_suppliers`). `left_out` says which rows left
    out which optional columns. `revoked` are the certificate numbers the catalog holds as
    revoked, which no row may bring back."""
    suppliers = _check_suppliers(columns, left_out, seen_suppliers, problems)
    texts = _texts(columns, _PRODUCT_TEXTS, problems)

    def converted(key: str, convert: Callable[[str], Any], reason: str) -> list[Any]:
        return _converted(columns[key], convert, f"{key} {reason}", problems)

    names = texts["name_zh"]
    initials = {name: name_initials(name)[:_INITIALS_LIMIT] for name in set(names)}
    fields = {
        "certifying_county": columns["certifying_county_code"],
        "valid_from": converted("valid_from", _date, "must be a date YYYY-MM-DD"),
        "valid_until": converted("valid_until", _date, "must be a date YYYY-MM-DD"),
        "status": converted("status", _one_of(STATUSES), f"must be one of {', '.join(STATUSES)}"),
        "quality_labels": converted(
            "quality_labels", _labels,
            f"must be labels separated by ; or | without commas, {_LABELS_LIMIT} characters in all",
        ),
        "origin_county": columns["origin_county_code"],
        "supplier": list(map(str.upper, columns["supplier_credit_code"])),
        "gtin": converted(
            "gtin", _gtin, "is not an EAN-13, EAN-8 or UPC-A with a valid check digit"
        ),
        "unit": converted("unit", _one_of(UNITS), f"must be one of {', '.join(UNITS)}"),
        "price_fen": converted(
            "price_fen", _whole_number(1, MAX_FEN), f"must be a whole number from 1 to {MAX_FEN}"
        ),
        "name_initials": list(map(initials.__getitem__, names)),
        "shelf_life_days": converted(
            "shelf_life_days", _whole_number(0, MAX_SHELF_DAYS, optional=True),
            f"must be a whole number from 0 to {MAX_SHELF_DAYS}",
        ),
        "image_url": converted(
            "image_url", _image_url, "must be a path starting with / or an https URL"
        ),
        "gtin_left_out": _flags(left_out, "gtin", len(names)),
        "shelf_life_days_left_out": _flags(left_out, "shelf_life_days", len(names)),
    }  # fmt: skip
    _check_dates(fields["valid_from"], fields["valid_until"], problems)
    _check_not_in_store(fields["gtin"], problems)
    _check_still_revoked(texts["certificate_no"], fields["status"], revoked, problems)
    ordered = (fields[name] if name in fields else texts[name] for name in ProductRecord._fields)
    return Products(list(map(ProductRecord._make, zip(*ordered, strict=True))), suppliers)


def _flags(left_out: LeftOut, key: str, rows: int) -> Sequence[bool]:
    """Whether each row left out the optional column `key`."""
    return left_out.get(key, [False] * rows)


def _check_dates(
    starts: Sequence[date | None], ends: Sequence[date | None], problems: Problems
) -> None:
    problems.add(
        (i for i, (a, b) in enumerate(zip(starts, ends, strict=True)) if a and b and a > b),
        "valid_from is after valid_until",
    )


def _check_not_in_store(gtins: Sequence[str | None], problems: Problems) -> None:
    problems.add(
        (i for i, gtin in enumerate(gtins) if gtin and is_in_store_number(gtin)),
        "gtin is an in-store number (prefix 20-29): the checkout reads it as a scale label",
    )


def _check_still_revoked(
    certificates: Sequence[str],
    statuses: Sequence[str | None],
    revoked: frozenset[str],
    problems: Problems,
) -> None:
    if revoked.isdisjoint(certificates):
        return
    problems.add(
        (i for i, (number, status) in enumerate(zip(certificates, statuses, strict=True))
         if number in revoked and status and undoes_revocation(was=REVOKED_STATUS, becomes=status)),
        lambda i: (
            f"certificate {certificates[i]} was revoked and cannot become {statuses[i]} again:"
            " revocation by the certification authority is final"
        ),
    )  # fmt: skip


def _first_rows(keys: Sequence[_K]) -> dict[_K, int]:
    """The index of the first row with each key."""
    return dict(zip(reversed(keys), range(len(keys) - 1, -1, -1), strict=True))


def _check_unique(certificates: Sequence[str], problems: Problems) -> None:
    if len(set(certificates)) == len(certificates):
        return
    first = _first_rows(certificates)
    problems.add(
        (i for i, key in enumerate(certificates) if first[key] != i),
        lambda i: f"certificate_no repeats line {problems.lines[first[certificates[i]]]}",
    )


def _check_agree(
    kind: str, keys: Sequence[Any], values: Sequence[object], problems: Problems
) -> None:
    """Every row with the same key says the same as the first row with it."""
    if len(set(zip(keys, values, strict=True))) == len(set(keys)):
        return
    first = _first_rows(keys)
    problems.add(
        (i for i, (key, value) in enumerate(zip(keys, values, strict=True))
         if values[first[key]] != value),
        lambda i: f"{kind} {keys[i]} differs from line {problems.lines[first[keys[i]]]}",
    )  # fmt: skip


def _check_known(
    key: str, codes: Sequence[str | None], described: set[str], problems: Problems
) -> None:
    """Valid county codes (None stands for an invalid one) must be described somewhere."""
    unknown = set(codes) - described - {None}
    if unknown:
        problems.add(
            (i for i, code in enumerate(codes) if code in unknown),
            lambda i: (
                f"{key} {codes[i]} is neither an origin county in the file nor in the catalog"
            ),
        )
