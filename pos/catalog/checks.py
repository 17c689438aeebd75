"""The checks on a catalog file's columns, and on its rows against each other (pure).

Checks run a column at a time: each distinct value is checked once, and a column whose values
all pass costs a few passes in C, which keeps the national list to about two seconds. Rows are
revisited only to name the ones that fail. What products share (places, suppliers) is checked
over the whole file first; the products themselves can then be checked a slice at a time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, TypeVar

from piccolo.columns import Varchar

from pos.catalog.codes import canonical_gtin, is_valid_credit_code, is_valid_gtin
from pos.catalog.columns import (
    Columns,
    CountyRecord,
    Problems,
    ProductRecord,
    Shared,
    SupplierRecord,
)
from pos.catalog.initials import name_initials
from pos.catalog.tables import County, Product, Province, Supplier

__all__ = ["MAX_FEN", "MAX_SHELF_DAYS", "STATUSES", "UNITS", "check_products", "check_shared"]

STATUSES = ("active", "suspended", "revoked")
UNITS = ("piece", "kg")
MAX_FEN = 2**31 - 1
MAX_SHELF_DAYS = 36_500
MAX_TEXT = 4000

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_LABEL_SEPARATOR = re.compile(r"[;|]")
_T = TypeVar("_T")


def _limit(column: Varchar) -> int:
    return MAX_TEXT if column.length is None else int(column.length)


# Free-text columns: (key, the most characters it may have, whether it must have a value).
_SHARED_TEXTS = (
    ("origin_county_name", _limit(County.name_zh), True),
    ("province_name", _limit(Province.name_zh), True),
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
    if value and not value.startswith(("/", "https://", "http://")):
        raise ValueError(value)
    return value


def check_shared(columns: Columns, known_counties: frozenset[str], problems: Problems) -> Shared:
    """Check the places and suppliers of the whole file, and that no certificate repeats."""
    texts = _texts(columns, _SHARED_TEXTS, problems)
    origin = columns["origin_county_code"]
    _converted(origin, _county_code, "origin_county_code must be 6 digits", problems)
    provinces = [code[:2] for code in origin]
    suppliers = list(map(str.upper, columns["supplier_credit_code"]))
    reason = "supplier_credit_code is not a valid unified social credit code"
    _converted(suppliers, _credit_code, reason, problems)
    own_counties = columns["supplier_county_code"]
    supplier_counties = [own or home for own, home in zip(own_counties, origin, strict=True)]
    supplier_values = list(
        zip(texts["supplier_name"], texts["supplier_name_en"], supplier_counties, strict=True)
    )
    _check_unique(columns["certificate_no"], problems)
    _check_agree("county", origin, texts["origin_county_name"], problems)
    _check_agree("province", provinces, texts["province_name"], problems)
    _check_agree("supplier", suppliers, supplier_values, problems)
    described = set(origin) | known_counties
    for key, codes in (
        ("certifying_county_code", columns["certifying_county_code"]),
        ("supplier_county_code", supplier_counties),
    ):
        valid = _converted(codes, _county_code, f"{key} must be 6 digits", problems)
        _check_known(key, valid, described, problems)
    counties = dict(zip(origin, texts["origin_county_name"], strict=True))
    return Shared(
        rows=len(origin),
        provinces=dict(zip(provinces, texts["province_name"], strict=True)),
        counties={code: CountyRecord(name, code[:2]) for code, name in counties.items()},
        suppliers={
            code: SupplierRecord._make(values)
            for code, values in dict(zip(suppliers, supplier_values, strict=True)).items()
        },
    )


def check_products(columns: Columns, problems: Problems) -> list[ProductRecord]:
    """The products of `columns`, whose places and suppliers `check_shared` has checked."""
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
            "image_url", _image_url, "must be a path starting with / or an http(s) URL"
        ),
    }  # fmt: skip
    _check_dates(fields["valid_from"], fields["valid_until"], problems)
    ordered = (fields[name] if name in fields else texts[name] for name in ProductRecord._fields)
    return list(map(ProductRecord._make, zip(*ordered, strict=True)))


def _check_dates(
    starts: Sequence[date | None], ends: Sequence[date | None], problems: Problems
) -> None:
    problems.add(
        (i for i, (a, b) in enumerate(zip(starts, ends, strict=True)) if a and b and a > b),
        "valid_from is after valid_until",
    )


def _first_rows(keys: Sequence[object]) -> dict[object, int]:
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
