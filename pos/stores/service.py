"""Stores operations: their rules, merchants, counters, devices, printers and price changes.

What a store sells, and its counters' catalogs, are in `pos.stores.listings`.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, NamedTuple

from pos.catalog import service as catalog
from pos.catalog.barcodes import LabelScheme
from pos.db import Statement
from pos.errors import InvalidInput, NotFound
from pos.stores.listings import open_counter
from pos.stores.schemas import PriceChangeOut
from pos.stores.tables import Counter, Device, Listing, ListingPriceChange, Printer, Store

__all__ = [
    "MerchantStore",
    "PrinterBrief",
    "StoreBrief",
    "StoreRules",
    "check_printer",
    "counter_ids_of",
    "counter_store_rules",
    "device_ids_of",
    "has_printer",
    "list_stores",
    "merchant_ids",
    "merchant_store",
    "price_changes",
    "store_ids_by_code",
    "store_printer_names",
    "store_rules",
    "time_zones",
]


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
    row = open_counter(counter_id, await _COUNTER_RULES.first(counter_id))
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
