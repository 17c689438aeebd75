"""Write a checked catalog file inside the caller's transaction, part by part as it is checked.

Provinces, counties and suppliers are few enough to compare in Python (existing rows are read
once); products are compared by the database. A product whose supplier or place changed gets
the new revision too, because devices show those names and only fetch products changed since
their last revision.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from pos.catalog.bulk import Bulk, PriceChangedBy
from pos.catalog.columns import Places, Products, SupplierRecord
from pos.catalog.schemas import ProgressCallback

__all__ = ["CatalogWriter", "Written"]

CHUNK_IDS = 500
_SUPPLIER_COLUMNS = ("name_zh", "name_en", "county")


class Written(NamedTuple):
    rows: int
    inserted: int
    updated: int
    restamped: int  # products, in the file or not, whose supplier or place changed

    @property
    def changed_products(self) -> bool:
        """Whether any product took the import's revision."""
        return bool(self.inserted or self.updated or self.restamped)


class CatalogWriter:
    """Upserts what a checked file holds, part by part; products that change get `revision`."""

    def __init__(
        self,
        db: Bulk,
        revision: int,
        now: datetime,
        by: PriceChangedBy,
        progress: ProgressCallback,
    ) -> None:
        self.db, self.revision, self.now, self.by, self.progress = db, revision, now, by, progress
        self.rows = self.inserted = self.updated = 0
        self.county_ids: dict[str, int] = {}
        self.existing: dict[str, dict[str, tuple[Any, ...]]] = {}
        self.changed: dict[str, set[int]] = {"province": set(), "county": set(), "supplier": set()}
        self.certificates: set[str] = set()

    async def write(self, part: Places | Products) -> None:
        """Write the next part of the file: its places first, then slices of products."""
        if isinstance(part, Places):
            await self._write_places(part)
        else:
            await self._write_products(part)

    async def _write_places(self, places: Places) -> None:
        self.rows = places.rows
        provinces = {code: (name,) for code, name in places.provinces.items()}
        await self._upsert("province", "code", ("name_zh",), provinces)
        province_ids = await _ids(self.db, "province", "code")
        counties = {
            code: (county.name_zh, province_ids[county.province_code])
            for code, county in places.counties.items()
        }
        await self._upsert("county", "code", ("name_zh", "province"), counties)
        self.county_ids = await _ids(self.db, "county", "code")

    async def _write_products(self, products: Products) -> None:
        stored = await self._existing("supplier", "credit_code", _SUPPLIER_COLUMNS)
        suppliers = {
            code: self._supplier_row(supplier, stored.get(code))
            for code, supplier in products.suppliers.items()
        }
        await self._upsert("supplier", "credit_code", _SUPPLIER_COLUMNS, suppliers)
        records = products.records
        inserted, updated = await self.db.upsert_products(records, self.revision, self.now, self.by)
        self.inserted += inserted
        self.updated += updated
        self.certificates.update(product.certificate_no for product in records)
        self.progress("write", len(self.certificates), self.rows)

    def _supplier_row(
        self, supplier: SupplierRecord, stored: tuple[Any, ...] | None
    ) -> tuple[str, str, int]:
        """The supplier's columns: what its rows left out keeps the stored value, or for a new
        supplier is empty (its English name) or its first row's origin county."""
        county = self.county_ids[supplier.county_code]
        if stored is None:
            return supplier.name_zh, supplier.name_en or "", county
        _, _, _, stored_name_en, stored_county = stored
        return (
            supplier.name_zh,
            stored_name_en if supplier.name_en is None else supplier.name_en,
            stored_county if supplier.county_left_out else county,
        )

    async def _existing(
        self, table: str, key: str, columns: Sequence[str]
    ) -> dict[str, tuple[Any, ...]]:
        """The table's rows as (id, key, *columns) by key, read on first use."""
        if table not in self.existing:
            listed = ", ".join(columns)
            # Table and column names are constants of this module, never input.
            query = f"SELECT id, {key}, {listed} FROM {table}"  # noqa: S608
            self.existing[table] = {row[1]: row for row in await self.db.fetch(query)}
        return self.existing[table]

    async def _upsert(
        self, table: str, key: str, columns: Sequence[str], wanted: dict[str, tuple[Any, ...]]
    ) -> None:
        """Insert or update the rows whose `columns` differ from `wanted`, noting changed ids."""
        existing = await self._existing(table, key, columns)
        changes = [(k, *v) for k, v in wanted.items() if k not in existing or existing[k][2:] != v]
        if changes:
            await self.db.upsert_by_key(table, key, columns, changes)
        self.changed[table].update(existing[c[0]][0] for c in changes if c[0] in existing)

    async def finish(self) -> Written:
        """Restamp products whose supplier or place changed; what the import did."""
        restamped = await _restamp(self.db, self.revision, self.now, self.changed)
        updated = self.updated + len(restamped & self.certificates)
        return Written(self.rows, self.inserted, updated, len(restamped))


async def _ids(db: Bulk, table: str, key: str) -> dict[str, int]:
    rows = await db.fetch(f"SELECT id, {key} FROM {table}")  # noqa: S608
    return {key_value: id_ for id_, key_value in rows}


async def _restamp(
    db: Bulk, revision: int, now: datetime, changed: dict[str, set[int]]
) -> set[str]:
    """Give the new revision to products whose supplier, county or province changed."""
    conditions = (
        ("supplier IN ({})", changed["supplier"]),
        ("origin_county IN ({})", changed["county"]),
        ("certifying_county IN ({})", changed["county"]),
        ("origin_county IN (SELECT id FROM county WHERE province IN ({}))", changed["province"]),
    )
    restamped: set[str] = set()
    for condition, ids in conditions:
        for chunk in _chunks(sorted(ids)):
            rows = await db.fetch(
                "UPDATE product SET revision = ?, updated_at = ? WHERE revision <> ? AND "  # noqa: S608
                + condition.format(", ".join("?" * len(chunk)))
                + " RETURNING certificate_no",
                revision,
                now,
                revision,
                *chunk,
            )
            restamped.update(row[0] for row in rows)
    return restamped


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    return (ids[start : start + CHUNK_IDS] for start in range(0, len(ids), CHUNK_IDS))
