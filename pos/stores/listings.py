"""What a store sells: its counters' catalogs (paged, searched, synced by `since`), and the
products a sale may take at the store's price, certified as of the store's day."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Collection
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from piccolo.columns import Column

from pos.catalog import service as catalog
from pos.catalog.codes import canonical_gtin
from pos.db import Statement, placeholders
from pos.db.text import contains, starts_with
from pos.errors import InvalidInput, NotFound
from pos.stores.schemas import CounterCatalog, CounterOut, SellableProduct
from pos.stores.since import Seen, catalog_cursor, read_cursor
from pos.stores.tables import Counter, Listing

__all__ = [
    "MAX_QUERY_LENGTH",
    "certified_products",
    "counter_catalog",
    "counter_catalog_etag",
    "get_counter",
    "open_counter",
    "sellable_products",
]

MAX_QUERY_LENGTH = 64


async def get_counter(counter_id: int) -> CounterOut:
    """The counter with its store; NotFound if none or it is closed."""
    row = (
        await Counter.select(
            Counter.id,
            Counter.code,
            Counter.name_zh,
            Counter.name_en,
            Counter.store._.id.as_alias("store_id"),
            Counter.store._.name_zh.as_alias("store_name_zh"),
            Counter.store._.name_en.as_alias("store_name_en"),
            Counter.store._.time_zone.as_alias("time_zone"),
            Counter.active,
        )
        .where(Counter.id == counter_id)
        .first()
    )
    return CounterOut(**open_counter(counter_id, row))


def open_counter(counter_id: int, row: dict[str, Any] | None) -> dict[str, Any]:
    """The counter's row; NotFound if there is none or its store's layout closed it."""
    if row is None:
        raise NotFound(f"no counter {counter_id}", code="counter_not_found")
    if not row["active"]:
        raise NotFound(
            f"counter {counter_id} is closed: its QR code no longer takes orders",
            code="counter_closed",
        )
    return row


def _store_today(counter: CounterOut) -> date:
    return datetime.now(ZoneInfo(counter.time_zone)).date()


async def counter_catalog_etag(counter_id: int, **params: Any) -> str:
    """An entity tag that changes when the catalog, the store's day or the request changes.

    The store's date is part of it because a certificate can expire at midnight with no
    catalog change.
    """
    counter = await get_counter(counter_id)
    revision = await catalog.current_revision()
    request = repr(sorted(params.items())).encode()
    digest = hashlib.blake2s(request, digest_size=6).hexdigest()
    return f'"{revision}-{_store_today(counter).isoformat()}-{counter_id}-{digest}"'


def _search(query: str) -> Any:
    if len(query) > MAX_QUERY_LENGTH:
        raise InvalidInput(f"search text is longer than {MAX_QUERY_LENGTH} characters")
    if query.isascii() and query.isdigit():
        return Listing.product._.gtin == canonical_gtin(query)
    return (
        contains(Listing.product._.name_zh, query)
        | contains(Listing.product._.name_en, query)
        | starts_with(Listing.product._.name_initials, query.lower())
    )


async def counter_catalog(
    counter_id: int,
    *,
    query: str | None = None,
    since: int | None = None,
    cursor: int | None = None,
    limit: int = 50,
) -> CounterCatalog:
    """One page of what the counter's store sells, searched, or what changed after `since`.

    `since` is a cursor an earlier answer carried (`pos.stores.since`).
    """
    counter = await get_counter(counter_id)
    revision = await catalog.current_revision()
    today = _store_today(counter)
    select = _listing_select().where(Listing.store == counter.store_id)
    if since is None:
        select = select.where(Listing.active.eq(True))
    else:
        select = select.where(_changed_since(read_cursor(since), today))
    if query:
        select = select.where(_search(query.strip()))
    if cursor is not None:
        select = select.where(Listing.id > cursor)
    rows = await select.order_by(Listing.id).limit(limit + 1)
    items = [_sellable(row, today) for row in rows[:limit]]
    next_cursor = rows[limit - 1]["id"] if len(rows) > limit else None
    return CounterCatalog(
        counter=counter,
        revision=catalog_cursor(revision, today),
        items=items,
        next_cursor=next_cursor,
    )


_product = Listing.product._
# Each row's keys and the column each is read from: the one list both queries below are made of.
_LISTING_FIELDS: dict[str, Column] = {
    "id": Listing.id,
    "active": Listing.active,
    "listing_price_fen": Listing.price_fen,
    "product_id": _product.id,
    "name_zh": _product.name_zh,
    "name_en": _product.name_en,
    "name_initials": _product.name_initials,
    "unit": _product.unit,
    "catalog_price_fen": _product.price_fen,
    "status": _product.status,
    "valid_from": _product.valid_from,
    "valid_until": _product.valid_until,
    "certificate_no": _product.certificate_no,
    "origin_county_code": _product.origin_county._.code,
    "origin_county_name": _product.origin_county._.name_zh,
    "supplier_id": _product.supplier,
    "supplier_name": _product.supplier._.name_zh,
    "gtin": _product.gtin,
    "category": _product.category,
    "image_url": _product.image_url,
}
# Built once: the joined, aliased columns are costly to make for every query.
_LISTING_COLUMNS = tuple(column.as_alias(key) for key, column in _LISTING_FIELDS.items())


def _listing_select() -> Any:
    return Listing.select(*_LISTING_COLUMNS)


def _changed_since(seen: Seen, today: date) -> Any:
    """Listings changed after the revision seen, and, when the day has changed since, the
    active ones whose certification may differ: a certificate starting or ending in between."""
    changed = (Listing.revision > seen.revision) | (_product.revision > seen.revision)
    if seen.day == today:
        return changed
    first, last = sorted((seen.day, today))
    starts = (_product.valid_from > first) & (_product.valid_from <= last)
    ends = (_product.valid_until >= first) & (_product.valid_until < last)
    return changed | (Listing.active.eq(True) & (starts | ends))


def _sellable(row: dict[str, Any], today: date) -> SellableProduct:
    price = row["listing_price_fen"]
    return SellableProduct(
        **row,
        price_fen=row["catalog_price_fen"] if price is None else price,
        certified=_certified(row, today),
    )


def _certified(row: dict[str, Any], day: date) -> bool:
    return catalog.is_certified(
        status=row["status"], valid_from=row["valid_from"], valid_until=row["valid_until"], on=day
    )


async def sellable_products(
    store_id: int, product_ids: Collection[int], *, today: date
) -> dict[int, SellableProduct]:
    """What the store sells now of these products, at its price, certified as of `today`.

    Products the store does not list, or no longer sells, are left out.
    """
    if not product_ids:
        return {}
    rows = await _sellable_select(len(product_ids)).rows(store_id, True, *product_ids)
    return {row["product_id"]: _sellable(row, today) for row in rows}


def _sql_column(key: str, column: Column) -> str:
    meta = column._meta
    return f"{meta.table._meta.tablename}.{meta.db_column_name} AS {key}"


# `_LISTING_FIELDS` as SQL: the checkout's hottest read, too costly for Piccolo to rebuild.
# Each table is joined once under its own name, the name `_sql_column` qualifies columns with.
_SELLABLE_COLUMNS = ", ".join(_sql_column(key, column) for key, column in _LISTING_FIELDS.items())
_SELLABLE = (
    f"SELECT {_SELLABLE_COLUMNS} FROM listing"  # noqa: S608 (names, not input)
    " JOIN product ON product.id = listing.product"
    " LEFT JOIN county ON county.id = product.origin_county"
    " LEFT JOIN supplier ON supplier.id = product.supplier"
    " WHERE listing.store = {} AND listing.active = {} AND listing.product IN "
)


@functools.lru_cache(maxsize=128)
def _sellable_select(count: int) -> Statement:
    return Statement(f"{_SELLABLE}({placeholders(count)})")


async def certified_products(
    store_id: int, product_ids: Collection[int], *, at: datetime
) -> tuple[dict[int, bool], str | None]:
    """Whether each product counts as certified at `at`, on the store's local date, as
    `sellable_products` decides it (unknown products are left out); and the store's time zone,
    None when no product is known. One statement: every sale runs it.
    """
    if not product_ids:
        return {}, None
    ids = sorted(set(product_ids))
    rows = await _certificates_select(len(ids)).rows(store_id, *ids)
    if not rows:
        return {}, None
    time_zone: str = rows[0]["time_zone"]
    day = at.astimezone(ZoneInfo(time_zone)).date()
    return {row["product_id"]: _certified(row, day) for row in rows}, time_zone


_CERTIFICATES = (
    "SELECT product.id AS product_id, product.status, product.valid_from, product.valid_until,"
    " store.time_zone FROM store, product WHERE store.id = {} AND product.id IN "
)


@functools.lru_cache(maxsize=128)
def _certificates_select(count: int) -> Statement:
    return Statement(f"{_CERTIFICATES}({placeholders(count)})")
