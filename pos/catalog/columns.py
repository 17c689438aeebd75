"""The columns of a catalog file, the records they become, and the problems found (pure)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

__all__ = [
    "COLUMNS",
    "OPTIONAL_COLUMNS",
    "CatalogFile",
    "Columns",
    "CountyRecord",
    "LeftOut",
    "Places",
    "Problems",
    "ProductRecord",
    "Products",
    "SupplierRecord",
]

COLUMNS = (
    "certificate_no", "scheme", "status", "status_notice", "valid_from", "valid_until",
    "certifying_county_code", "origin_county_code", "origin_county_name", "province_name",
    "supplier_credit_code", "supplier_name", "supplier_name_en", "supplier_county_code",
    "gtin", "unit", "price_fen", "name_zh", "name_en", "category", "quality_labels",
    "poverty_help", "shelf_life_days", "origin_text", "traceability", "image_url",
)  # fmt: skip
OPTIONAL_COLUMNS = frozenset(
    {"supplier_name_en", "supplier_county_code", "gtin", "shelf_life_days"}
)
Columns = dict[str, Sequence[str]]
"""Each column's values, stripped of surrounding white space, one per row."""
LeftOut = dict[str, Sequence[bool]]
"""For each optional column some row left out, whether each row did (its value reads as "")."""


class ProductRecord(NamedTuple):
    """A product row in the order of the product table, with codes where the table has ids,
    then whether the row left out gtin and shelf_life_days, whose stored values it keeps."""

    certificate_no: str
    scheme: str
    certifying_county: str
    valid_from: date
    valid_until: date
    status: str
    status_notice: str
    quality_labels: str
    poverty_help: str
    origin_county: str
    supplier: str
    gtin: str | None
    unit: str
    price_fen: int
    name_zh: str
    name_en: str
    name_initials: str
    category: str
    shelf_life_days: int | None
    origin_text: str
    traceability: str
    image_url: str
    gtin_left_out: bool
    shelf_life_days_left_out: bool


class CountyRecord(NamedTuple):
    name_zh: str
    province_code: str


class SupplierRecord(NamedTuple):
    """A supplier as its rows describe it; what they leave out keeps the stored value."""

    name_zh: str
    name_en: str | None  # None: left out
    county_code: str  # supplier_county_code, or the row's origin county when empty or left out
    county_left_out: bool


@dataclass(frozen=True, slots=True)
class Places:
    """The provinces and counties of a whole file, by code, and how many rows it has."""

    rows: int
    provinces: dict[str, str]
    counties: dict[str, CountyRecord]


@dataclass(frozen=True, slots=True)
class Products:
    """A slice of a file's products, and the suppliers first described in it."""

    records: list[ProductRecord]
    suppliers: dict[str, SupplierRecord]


@dataclass(frozen=True, slots=True)
class CatalogFile:
    """A whole validated file."""

    places: Places
    suppliers: dict[str, SupplierRecord]
    products: list[ProductRecord]


class Problems:
    """What is wrong with each line of the file; checks name rows by their index in `lines`."""

    def __init__(self, lines: Sequence[int], by_line: dict[int, list[str]] | None = None) -> None:
        self.lines = lines
        self.by_line = {} if by_line is None else by_line

    def __bool__(self) -> bool:
        return bool(self.by_line)

    def part(self, start: int, stop: int) -> Problems:
        """The same problems, for checks that see only rows start..stop as 0..stop-start."""
        return Problems(self.lines[start:stop], self.by_line)

    def add_line(self, line: int, reason: str) -> None:
        self.by_line.setdefault(line, []).append(reason)

    def add(self, rows: Iterable[int], reason: str | Callable[[int], str]) -> None:
        for row in rows:
            self.add_line(self.lines[row], reason if isinstance(reason, str) else reason(row))

    def errors(self) -> list[tuple[int, str]]:
        """(line, reasons) for each bad line, in file order."""
        return [(line, "; ".join(self.by_line[line])) for line in sorted(self.by_line)]
