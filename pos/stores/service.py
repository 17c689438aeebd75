"""Stores operations: counters and what a counter sells."""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from datetime import date, datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from pos.catalog import service as catalog
from pos.catalog.codes import canonical_gtin
from pos.db.text import contains, starts_with
from pos.errors import InvalidInput, NotFound
from pos.stores.schemas import CounterCatalog, CounterOut, SellableProduct
from pos.stores.tables import Counter, Device, Listing, Store

__all__ = [
    "StoreBrief",
    "StoreRules",
    "counter_catalog",
    "counter_catalog_etag",
    "counter_ids_of",
    "device_ids_of",
    "get_counter",
    "list_stores",
    "listing_prices",
    "store_ids_by_code",
    "store_rules",
]

MAX_QUERY_LENGTH = 64


async def get_counter(counter_id: int) -> CounterOut:
    """The counter with its store, or NotFound."""
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
        )
        .where(Counter.id == counter_id)
        .first()
    )
    if row is None:
        raise NotFound(f"no counter {counter_id}", code="counter_not_found")
    return CounterOut(**row)


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
    """One page of what the counter's store sells, searched, or what changed after `since`."""
    counter = await get_counter(counter_id)
    revision = await catalog.current_revision()
    select = _listing_select().where(Listing.store == counter.store_id)
    if since is None:
        select = select.where(Listing.active.eq(True))
    else:
        select = select.where((Listing.revision > since) | (Listing.product._.revision > since))
    if query:
        select = select.where(_search(query.strip()))
    if cursor is not None:
        select = select.where(Listing.id > cursor)
    rows = await select.order_by(Listing.id).limit(limit + 1)
    today = _store_today(counter)
    items = [_sellable(row, today) for row in rows[:limit]]
    next_cursor = rows[limit - 1]["id"] if len(rows) > limit else None
    return CounterCatalog(counter=counter, revision=revision, items=items, next_cursor=next_cursor)


def _listing_select() -> Any:
    product = Listing.product._
    return Listing.select(
        Listing.id,
        Listing.active,
        Listing.price_fen.as_alias("listing_price_fen"),
        product.id.as_alias("product_id"),
        product.name_zh.as_alias("name_zh"),
        product.name_en.as_alias("name_en"),
        product.name_initials.as_alias("name_initials"),
        product.unit.as_alias("unit"),
        product.price_fen.as_alias("catalog_price_fen"),
        product.status.as_alias("status"),
        product.valid_from.as_alias("valid_from"),
        product.valid_until.as_alias("valid_until"),
        product.certificate_no.as_alias("certificate_no"),
        product.origin_county._.code.as_alias("origin_county_code"),
        product.origin_county._.name_zh.as_alias("origin_county_name"),
        product.supplier._.name_zh.as_alias("supplier_name"),
        product.gtin.as_alias("gtin"),
        product.category.as_alias("category"),
        product.image_url.as_alias("image_url"),
    )


def _sellable(row: dict[str, Any], today: date) -> SellableProduct:
    price = row["listing_price_fen"]
    return SellableProduct(
        **row,
        price_fen=row["catalog_price_fen"] if price is None else price,
        certified=catalog.is_certified(
            status=row["status"],
            valid_from=row["valid_from"],
            valid_until=row["valid_until"],
            on=today,
        ),
    )


async def store_ids_by_code(codes: list[str]) -> dict[str, int]:
    """Store ids for the given store codes (unknown codes are left out)."""
    rows = await Store.select(Store.id, Store.code).where(Store.code.is_in(codes)) if codes else []
    return {row["code"]: row["id"] for row in rows}


class StoreRules(NamedTuple):
    """What selling at a store depends on besides its products."""

    time_zone: str
    hold_minutes: int


async def store_rules(store_id: int) -> StoreRules:
    """The store's time zone and how long an unpaid order holds stock; NotFound if no store."""
    row = (
        await Store.select(Store.time_zone, Store.hold_minutes).where(Store.id == store_id).first()
    )
    if row is None:
        raise NotFound(f"no store {store_id}", code="store_not_found")
    return StoreRules(row["time_zone"], row["hold_minutes"])


async def listing_prices(store_id: int, product_ids: Collection[int]) -> dict[int, int]:
    """The price in fen each product sells at in the store now: its own, else the catalog's.

    Products the store does not list, or no longer sells, are left out.
    """
    if not product_ids:
        return {}
    rows = await Listing.select(
        Listing.product.as_alias("product_id"),
        Listing.price_fen,
        Listing.product._.price_fen.as_alias("catalog_price_fen"),
    ).where(
        (Listing.store == store_id)
        & Listing.active.eq(True)
        & Listing.product.is_in(list(product_ids))
    )
    own = {row["product_id"]: row["price_fen"] for row in rows}
    catalog_price = {row["product_id"]: row["catalog_price_fen"] for row in rows}
    return {pid: catalog_price[pid] if price is None else price for pid, price in own.items()}


async def counter_ids_of(store_ids: list[int]) -> dict[str, int]:
    """Counter ids by counter code for the given stores."""
    rows = await Counter.select(Counter.id, Counter.code).where(Counter.store.is_in(store_ids))
    return {row["code"]: row["id"] for row in rows}


async def device_ids_of(store_ids: list[int], kind: str | None = None) -> dict[str, int]:
    """Device ids by device name for the given stores, of one kind if given (for `pos demo`)."""
    where: Any = Device.store.is_in(store_ids or [-1])
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
