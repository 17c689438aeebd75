"""Stores operations: counters and what a counter sells."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Collection
from datetime import date, datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from piccolo.columns import Column

from pos.catalog import service as catalog
from pos.catalog.codes import canonical_gtin
from pos.db import Statement, placeholders
from pos.db.text import contains, starts_with
from pos.errors import InvalidInput, NotFound
from pos.orders.barcodes import LabelScheme
from pos.stores.schemas import CounterCatalog, CounterOut, PriceChangeOut, SellableProduct
from pos.stores.since import Seen, catalog_cursor, read_cursor
from pos.stores.tables import Counter, Device, Listing, ListingPriceChange, Printer, Store

__all__ = [
    "MerchantStore",
    "PrinterBrief",
    "StoreBrief",
    "StoreRules",
    "certified_products",
    "check_printer",
    "counter_catalog",
    "counter_catalog_etag",
    "counter_ids_of",
    "counter_store_rules",
    "device_ids_of",
    "get_counter",
    "has_printer",
    "list_stores",
    "merchant_ids",
    "merchant_store",
    "price_changes",
    "sellable_products",
    "store_ids_by_code",
    "store_printer_names",
    "store_rules",
    "time_zones",
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
    return CounterOut(**_open_counter(counter_id, row))


def _open_counter(counter_id: int, row: dict[str, Any] | None) -> dict[str, Any]:
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


async def store_ids_by_code(codes: list[str]) -> dict[str, int]:
    """Store ids for the given store codes (unknown codes are left out)."""
    rows = await Store.select(Store.id, Store.code).where(Store.code.is_in(codes)) if codes else []
    return {row["code"]: row["id"] for row in rows}


class StoreRules(NamedTuple):
    """What selling at a store depends on besides its products."""

    time_zone: str
    hold_minutes: int
    label_scheme: LabelScheme

    @classmethod
    def of(cls, row: dict[str, Any]) -> StoreRules:
        """The rules in a row of the store's columns."""
        return cls(row["time_zone"], row["hold_minutes"], row["label_scheme"])


async def time_zones(store_ids: Collection[int]) -> set[str]:
    """The time zones the stores are in."""
    rows = await Store.select(Store.time_zone).where(Store.id.is_in(list(store_ids) or [-1]))
    return {row["time_zone"] for row in rows}


async def store_rules(store_id: int) -> StoreRules:
    """The store's time zone, how long an unpaid order holds stock and how its scales label."""
    row = (
        await Store.select(Store.time_zone, Store.hold_minutes, Store.label_scheme)
        .where(Store.id == store_id)
        .first()
    )
    if row is None:
        raise NotFound(f"no store {store_id}", code="store_not_found")
    return StoreRules.of(row)


_COUNTER_RULES = Statement(
    "SELECT c.store, c.active, s.time_zone, s.hold_minutes, s.label_scheme"
    " FROM counter c JOIN store s ON s.id = c.store WHERE c.id = {}"
)


async def counter_store_rules(counter_id: int) -> tuple[int, StoreRules]:
    """The counter's store id and that store's rules; NotFound if no counter or it is closed."""
    row = _open_counter(counter_id, await _COUNTER_RULES.first(counter_id))
    return int(row["store"]), StoreRules.of(row)


class MerchantStore(NamedTuple):
    """A store as the platform knows it: the merchant it reports as, its code and time zone."""

    merchant_id: str
    code: str
    time_zone: str


async def merchant_store(store_id: int) -> MerchantStore:
    """The store's merchant id, code and time zone; NotFound if no store."""
    row = (
        await Store.select(Store.merchant_id, Store.code, Store.time_zone)
        .where(Store.id == store_id)
        .first()
    )
    if row is None:
        raise NotFound(f"no store {store_id}", code="store_not_found")
    return MerchantStore(**row)


async def merchant_ids() -> set[str]:
    """Every merchant id a store reports as (stores without one are left out)."""
    rows = await Store.select(Store.merchant_id).where(Store.merchant_id != "").distinct()
    return {row["merchant_id"] for row in rows}


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
) -> dict[int, bool]:
    """Whether each product counts as certified at `at`, on the store's local date, as
    `sellable_products` decides it; unknown products are left out. One statement: every sale
    runs it.
    """
    if not product_ids:
        return {}
    ids = sorted(set(product_ids))
    rows = await _certificates_select(len(ids)).rows(store_id, *ids)
    if not rows:
        return {}
    day = at.astimezone(ZoneInfo(rows[0]["time_zone"])).date()
    return {row["product_id"]: _certified(row, day) for row in rows}


_CERTIFICATES = (
    "SELECT product.id AS product_id, product.status, product.valid_from, product.valid_until,"
    " store.time_zone FROM store, product WHERE store.id = {} AND product.id IN "
)


@functools.lru_cache(maxsize=128)
def _certificates_select(count: int) -> Statement:
    return Statement(f"{_CERTIFICATES}({placeholders(count)})")


async def counter_ids_of(store_ids: list[int]) -> dict[str, int]:
    """Counter ids by counter code for the given stores."""
    rows = await Counter.select(Counter.id, Counter.code).where(Counter.store.is_in(store_ids))
    return {row["code"]: row["id"] for row in rows}


async def device_ids_of(store_ids: list[int], kind: str | None = None) -> dict[str, int]:
    """Active device ids by device name for the given stores, of one kind if given (`pos demo`)."""
    where: Any = Device.store.is_in(store_ids or [-1]) & Device.active.eq(True)
    if kind is not None:
        where &= Device.kind == kind
    rows = await Device.select(Device.id, Device.name).where(where)
    return {row["name"]: row["id"] for row in rows}


class StoreBrief(NamedTuple):
    """A store as a staff tablet lists it."""

    id: int
    code: str
    name_zh: str
    name_en: str


async def list_stores(store_ids: Collection[int] | None = None) -> list[StoreBrief]:
    """The given stores (none given: every store), by id."""
    query = Store.select(Store.id, Store.code, Store.name_zh, Store.name_en).order_by(Store.id)
    if store_ids is not None:
        query = query.where(Store.id.is_in(list(store_ids) or [-1]))
    return [StoreBrief(**row) for row in await query]


async def price_changes(
    store_id: int, product_id: int | None = None, limit: int = 200
) -> list[PriceChangeOut]:
    """The store's own price changes and the catalog's of what it lists, newest first."""
    change = ListingPriceChange
    of_store: Any = change.listing._.store == store_id
    if product_id is not None:
        of_store &= change.listing._.product == product_id
    own = (
        await change.select(
            change.listing._.product.as_alias("product_id"),
            change.listing._.product._.name_zh.as_alias("product_name"),
            change.old_price_fen,
            change.new_price_fen,
            change.changed_at,
            change.changed_by,
            change.reason,
        )
        .where(of_store)
        .order_by(change.id, ascending=False)
        .limit(limit)
    )
    listed = [product_id] if product_id is not None else await _listed_products(store_id)
    catalog_wide = await catalog.price_changes(listed, limit)
    merged = [
        *(PriceChangeOut(**row, scope="store") for row in own),
        *(PriceChangeOut(**row, scope="catalog") for row in catalog_wide),
    ]
    return sorted(merged, key=lambda row: row.changed_at, reverse=True)[:limit]


async def _listed_products(store_id: int) -> list[int]:
    rows = await Listing.select(Listing.product).where(Listing.store == store_id)
    return [row["product"] for row in rows]


class PrinterBrief(NamedTuple):
    """A printer as staff choose one: where a reprint or a refund slip prints."""

    id: int
    name: str


async def store_printer_names(store_id: int) -> list[PrinterBrief]:
    """The store's printers, by id."""
    rows = await (
        Printer.select(Printer.id, Printer.name)
        .where(Printer.store == store_id)
        .order_by(Printer.id)
    )
    return [PrinterBrief(**row) for row in rows]


async def has_printer(store_id: int, printer_id: int) -> bool:
    """Whether `printer_id` is one of the store's printers."""
    return bool(
        await Printer.exists().where((Printer.id == printer_id) & (Printer.store == store_id))
    )


async def check_printer(store_id: int, printer_id: int) -> None:
    """InvalidInput unless `printer_id` is one of the store's printers."""
    if not await has_printer(store_id, printer_id):
        raise InvalidInput(
            f"store {store_id} has no printer {printer_id}", code="printer_not_in_store"
        )


# One statement for the certified-sale handler, which runs for every sale.
_MERCHANT_COUNTER = Statement(
    "SELECT s.merchant_id, s.code, s.time_zone, c.code AS counter_code"
    " FROM store s LEFT JOIN counter c ON c.id = {} WHERE s.id = {}"
)


async def merchant_counter(
    store_id: int, counter_id: int | None
) -> tuple[MerchantStore, str | None]:
    """The store's merchant id, code and time zone, and the counter's code; NotFound if missing."""
    row = await _MERCHANT_COUNTER.first(counter_id, store_id)
    if row is None:
        raise NotFound(f"no store {store_id}", code="store_not_found")
    if counter_id is not None and row["counter_code"] is None:
        raise NotFound(f"no counter {counter_id}", code="counter_not_found")
    store = MerchantStore(row["merchant_id"], row["code"], row["time_zone"])
    return store, row["counter_code"]
