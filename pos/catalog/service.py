"""Catalog operations: the certified-list import and the reads other domains need."""

from __future__ import annotations

import functools
import gc
import time
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import anyio
from piccolo.engine.sqlite import SQLiteEngine

from pos.catalog.bulk import PriceChangedBy, bulk
from pos.catalog.certification import REVOKED_STATUS, is_certified
from pos.catalog.codes import canonical_gtin
from pos.catalog.importer import Format, parse_parts
from pos.catalog.pipeline import write_while_checking
from pos.catalog.schemas import ImportReport, ProductOut, ProgressCallback, no_progress
from pos.catalog.tables import (
    PRICE_CHANGE_REASON_CHARS,
    CatalogRevision,
    County,
    Product,
    ProductPriceChange,
    Supplier,
)
from pos.catalog.upsert import CatalogWriter
from pos.db import Statement, current_engine, placeholders, write_transaction
from pos.errors import InvalidInput, NotFound

__all__ = [
    "bump_revision",
    "current_revision",
    "get_product",
    "import_catalog",
    "import_catalog_file",
    "is_certified",
    "price_changes",
    "product_ids_by_certificate",
    "product_units",
    "products_by_gtin",
    "require_supplier",
    "sold_by_the_piece",
    "supplier_credit_codes",
    "supplier_product_ids",
]

FORMATS_BY_SUFFIX: dict[str, Format] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
REVISION_ROW_ID = 1


@contextmanager
def _gc_paused() -> Iterator[None]:
    """An import keeps ~20 objects a row alive until it ends; the cyclic collector would walk
    them again and again, which made importing the national list about 40% slower."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


async def import_catalog_file(
    path: Path, *, changed_by: str, progress: ProgressCallback | None = None
) -> ImportReport:
    """Import a .csv, .jsonl or .ndjson certified list; see `import_catalog`."""
    fmt = FORMATS_BY_SUFFIX.get(path.suffix.lower())
    if fmt is None:
        raise InvalidInput(
            f"{path.name}: a catalog file ends in .csv, .jsonl or .ndjson", code="catalog_format"
        )
    data = await anyio.Path(path).read_bytes()
    reason = f"catalog import {path.name}"[:PRICE_CHANGE_REASON_CHARS]
    return await import_catalog(
        data, fmt=fmt, changed_by=changed_by, reason=reason, progress=progress
    )


async def import_catalog(
    data: bytes,
    *,
    fmt: Format,
    changed_by: str,
    reason: str = "catalog import",
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Check a whole certified list and upsert it in one transaction.

    Each price it changes is recorded with `changed_by` (staff:3, cli:<account>) and `reason`.

    A file with any bad row raises InvalidInput(code="catalog_rejected") naming each bad line,
    and changes nothing. Checking runs in a worker thread while the database writes what is
    already checked; a rejection rolls the writes back.
    """
    started = time.perf_counter()
    report = progress or no_progress
    known = frozenset(await County.select(County.code).output(as_list=True))
    with _gc_paused():
        async with write_transaction():
            revision = await bump_revision()
            # Read after taking the revision row, which an import running alongside holds until
            # its commit: a certificate it revoked is seen as revoked here.
            revoked = await _revoked_certificates()
            parts = partial(
                parse_parts, data, fmt=fmt, known_counties=known, revoked=revoked, progress=report
            )
            by = PriceChangedBy(changed_by, reason)
            writer = CatalogWriter(await bulk(), revision, datetime.now(UTC), by, report)
            await write_while_checking(parts, writer.write)
            written = await writer.finish()
            if not written.changed_products:
                revision = await _take_back(revision)
    return ImportReport(
        rows=written.rows,
        inserted=written.inserted,
        updated=written.updated,
        unchanged=written.rows - written.inserted - written.updated,
        revision=revision,
        seconds=round(time.perf_counter() - started, 3),
    )


async def _revoked_certificates() -> frozenset[str]:
    """The numbers of the certificates the catalog holds as revoked, which stay revoked."""
    numbers = await Product.select(Product.certificate_no).where(Product.status == REVOKED_STATUS)
    return frozenset(row["certificate_no"] for row in numbers)


async def price_changes(product_ids: list[int], limit: int) -> list[dict[str, Any]]:
    """The latest catalog price changes of the products, newest first."""
    change = ProductPriceChange
    return await (
        change.select(
            change.product.as_alias("product_id"),
            change.product._.name_zh.as_alias("product_name"),
            change.old_price_fen,
            change.new_price_fen,
            change.changed_at,
            change.changed_by,
            change.reason,
        )
        .where(change.product.is_in(product_ids or [-1]))
        .order_by(change.id, ascending=False)
        .limit(limit)
    )


async def bump_revision() -> int:
    """Advance the catalog revision and return it; call inside a write transaction."""
    await CatalogRevision.insert(CatalogRevision(id=REVISION_ROW_ID, revision=0)).on_conflict(
        action="DO NOTHING"
    )
    rows = (
        await CatalogRevision.update({CatalogRevision.revision: CatalogRevision.revision + 1})
        .where(CatalogRevision.id == REVISION_ROW_ID)
        .returning(CatalogRevision.revision)
    )
    return int(rows[0]["revision"])


async def _take_back(revision: int) -> int:
    """Undo this transaction's `bump_revision`, which nothing used; the revision as it was.

    Its row stays locked until the commit, so no one else took a revision meanwhile.
    """
    await CatalogRevision.update({CatalogRevision.revision: revision - 1}).where(
        CatalogRevision.id == REVISION_ROW_ID
    )
    return revision - 1


async def current_revision() -> int:
    """The catalog revision: 0 before anything was imported."""
    row = (
        await CatalogRevision.select(CatalogRevision.revision)
        .where(CatalogRevision.id == REVISION_ROW_ID)
        .first()
    )
    return 0 if row is None else int(row["revision"])


# Built once: the joined, aliased columns are costly to make for every query.
_PRODUCT_COLUMNS = (
    *Product.all_columns(
        exclude=(Product.certifying_county, Product.origin_county, Product.supplier)
    ),
    Product.supplier.as_alias("supplier_id"),
    Product.certifying_county._.code.as_alias("certifying_county_code"),
    Product.origin_county._.code.as_alias("origin_county_code"),
    Product.origin_county._.name_zh.as_alias("origin_county_name"),
    Product.origin_county._.province._.name_zh.as_alias("province_name"),
    Product.supplier._.credit_code.as_alias("supplier_credit_code"),
    Product.supplier._.name_zh.as_alias("supplier_name"),
    Product.supplier._.name_en.as_alias("supplier_name_en"),
)


def _product_select() -> Any:
    return Product.select(*_PRODUCT_COLUMNS)


async def get_product(product_id: int) -> ProductOut:
    """The product with its origin and supplier, or NotFound."""
    row = await _product_select().where(Product.id == product_id).first()
    if row is None:
        raise NotFound(f"no product {product_id}", code="product_not_found")
    return ProductOut.model_validate(row)


async def products_by_gtin(gtin: str) -> list[ProductOut]:
    """Products with this barcode (UPC-A and EAN-13 forms match each other), oldest first."""
    code = gtin.strip()
    if not (code.isdigit() and code.isascii()):
        return []
    rows = await _product_select().where(Product.gtin == canonical_gtin(code)).order_by(Product.id)
    return [ProductOut.model_validate(row) for row in rows]


async def product_ids_by_certificate(certificate_nos: list[str]) -> dict[str, int]:
    """Product ids for the given certificate numbers (unknown ones are left out)."""
    if not certificate_nos:
        return {}
    rows = await Product.select(Product.id, Product.certificate_no).where(
        Product.certificate_no.is_in(certificate_nos)
    )
    return {row["certificate_no"]: row["id"] for row in rows}


async def product_units(product_ids: Iterable[int]) -> dict[int, str]:
    """The unit ("piece" or "kg") of each product, by id, in one query (unknown ids left out)."""
    ids = sorted(set(product_ids))
    if not ids:
        return {}
    rows = await Product.select(Product.id, Product.unit).where(Product.id.is_in(ids))
    return {row["id"]: row["unit"] for row in rows}


async def sold_by_the_piece(certificate_nos: list[str]) -> list[str]:
    """Which of the certificates' products are sold by the piece."""
    if not certificate_nos:
        return []
    rows = await Product.select(Product.certificate_no).where(
        Product.certificate_no.is_in(certificate_nos) & (Product.unit == "piece")
    )
    return [row["certificate_no"] for row in rows]


async def supplier_credit_codes(supplier_ids: Collection[int]) -> dict[int, str]:
    """Unified social credit codes by supplier id (unknown ids are left out)."""
    if not supplier_ids:
        return {}
    ids = sorted(set(supplier_ids))
    rows = await _credit_codes_of(len(ids)).rows(*ids)
    return {row["id"]: row["credit_code"] for row in rows}


# Hand-written: run for every sale with a certified line, where Piccolo's query building cost
# more than the query.
@functools.lru_cache(maxsize=64)
def _credit_codes_of(suppliers: int) -> Statement:
    """The credit codes of that many suppliers."""
    return Statement(
        f"SELECT id, credit_code FROM supplier WHERE id IN ({placeholders(suppliers)})"  # noqa: S608
    )


async def require_supplier(supplier_id: int) -> None:
    """Pass when the supplier exists; NotFound `supplier_not_found` otherwise."""
    if not await Supplier.exists().where(Supplier.id == supplier_id):
        raise NotFound(f"no supplier {supplier_id}", code="supplier_not_found")


# SQLite binds at most 32,766 parameters per statement.
_CERTIFICATES_PER_QUERY = 5_000
# On PostgreSQL one statement over an array does it all, however many certificates there are.
_PG_SUPPLIER_PRODUCTS = (
    "SELECT id, certificate_no FROM product WHERE supplier = {} AND certificate_no = ANY({})"
)


async def supplier_product_ids(supplier_id: int, certificate_nos: Iterable[str]) -> dict[str, int]:
    """Product ids of the supplier's certificates (others', and unknown ones, are left out)."""
    wanted = sorted(set(certificate_nos))
    if not isinstance(current_engine(), SQLiteEngine):
        rows = await Product.raw(_PG_SUPPLIER_PRODUCTS, supplier_id, wanted)
        return {row["certificate_no"]: row["id"] for row in rows}
    found: dict[str, int] = {}
    for start in range(0, len(wanted), _CERTIFICATES_PER_QUERY):
        chunk = wanted[start : start + _CERTIFICATES_PER_QUERY]
        rows = await Product.select(Product.id, Product.certificate_no).where(
            (Product.supplier == supplier_id) & Product.certificate_no.is_in(chunk)
        )
        found.update({row["certificate_no"]: row["id"] for row in rows})
    return found
