"""Write a checked catalog file inside the caller's transaction, part by part as it is checked.

Provinces, counties and suppliers are few enough to compare in Python; products are compared
by the database. A product whose supplier or place changed gets the new revision too, because
devices show those names and only fetch products changed since their last revision.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from pos.catalog.bulk import Bulk
from pos.catalog.columns import ProductRecord, Shared
from pos.catalog.schemas import ProgressCallback

__all__ = ["CatalogWriter", "Written"]

CHUNK_IDS = 500


class Written(NamedTuple):
    rows: int
    inserted: int
    updated: int


class _Keyed(NamedTuple):
    """A table's id for every key, and the ids of existing rows this import changed."""

    ids: dict[str, int]
    changed: set[int]


_NOTHING = _Keyed({}, set())


class CatalogWriter:
    """Upserts what a checked file holds; products that change get `revision`."""

    def __init__(self, db: Bulk, revision: int, now: datetime, progress: ProgressCallback) -> None:
        self.db, self.revision, self.now, self.progress = db, revision, now, progress
        self.rows = self.inserted = self.updated = 0
        self.provinces = self.counties = self.suppliers = _NOTHING
        self.certificates: set[str] = set()

    async def write(self, part: Shared | Sequence[ProductRecord]) -> None:
        """Write the next part of the file: what products share first, then products."""
        if isinstance(part, Shared):
            await self._write_shared(part)
        else:
            await self._write_products(part)

    async def _write_shared(self, shared: Shared) -> None:
        self.rows = shared.rows
        provinces = {code: (name,) for code, name in shared.provinces.items()}
        self.provinces = await _upsert_by_key(self.db, "province", "code", ("name_zh",), provinces)
        counties = {
            code: (county.name_zh, self.provinces.ids[county.province_code])
            for code, county in shared.counties.items()
        }
        self.counties = await _upsert_by_key(
            self.db, "county", "code", ("name_zh", "province"), counties
        )
        suppliers = {
            code: (supplier.name_zh, supplier.name_en, self.counties.ids[supplier.county_code])
            for code, supplier in shared.suppliers.items()
        }
        self.suppliers = await _upsert_by_key(
            self.db, "supplier", "credit_code", ("name_zh", "name_en", "county"), suppliers
        )

    async def _write_products(self, products: Sequence[ProductRecord]) -> None:
        inserted, updated = await self.db.upsert_products(products, self.revision, self.now)
        self.inserted += inserted
        self.updated += updated
        self.certificates.update(product.certificate_no for product in products)
        self.progress("write", len(self.certificates), self.rows)

    async def finish(self) -> Written:
        """Restamp products whose supplier or place changed; what the import did."""
        restamped = await _restamp(
            self.db, self.revision, self.now, self.provinces, self.counties, self.suppliers
        )
        return Written(self.rows, self.inserted, self.updated + len(restamped & self.certificates))


async def _upsert_by_key(
    db: Bulk, table: str, key: str, columns: Sequence[str], wanted: dict[str, tuple[Any, ...]]
) -> _Keyed:
    """Insert or update the rows of `table` whose `columns` differ from `wanted`, by `key`."""
    listed = ", ".join(columns)
    # Table and column names are constants of this module, never input.
    existing = {
        row[1]: row
        for row in await db.fetch(f"SELECT id, {key}, {listed} FROM {table}")  # noqa: S608
    }
    changes = [(k, *v) for k, v in wanted.items() if k not in existing or existing[k][2:] != v]
    if changes:
        await db.upsert_by_key(table, key, columns, changes)
    ids = {k: row[0] for k, row in existing.items()}
    if any(change[0] not in existing for change in changes):
        ids = {k: id_ for id_, k in await db.fetch(f"SELECT id, {key} FROM {table}")}  # noqa: S608
    return _Keyed(ids, {existing[c[0]][0] for c in changes if c[0] in existing})


async def _restamp(
    db: Bulk, revision: int, now: datetime, provinces: _Keyed, counties: _Keyed, suppliers: _Keyed
) -> set[str]:
    """Give the new revision to products whose supplier, county or province changed."""
    conditions = (
        ("supplier IN ({})", suppliers.changed),
        ("origin_county IN ({})", counties.changed),
        ("certifying_county IN ({})", counties.changed),
        ("origin_county IN (SELECT id FROM county WHERE province IN ({}))", provinces.changed),
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
