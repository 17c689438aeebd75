"""Apply a store layout file: upsert a store, its printers, counters, devices and listings.

A listing's `plu` is what the store's scales print on the product's labels.

Everything is matched by its natural key (store and counter codes, printer and device names,
certificate numbers), so loading the same file twice changes nothing. A layout is the whole
store: a counter it leaves out is closed (its QR code refused), a device deactivated and its
tokens revoked, a listing withdrawn from sale, a PLU forgotten (deleted: a sale keeps the product
its label meant, not the PLU). Other rows are never deleted, as orders refer to them: put a
counter or listing back in the file and it opens or sells again; a device back in the file needs a
new token. Printers left out stay, unused.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import anyio
from piccolo.table import Table
from pydantic import TypeAdapter, ValidationError

from pos.catalog import service as catalog
from pos.catalog.barcodes import normalize_plu
from pos.catalog.tables import PRICE_CHANGE_REASON_CHARS
from pos.db import write_transaction
from pos.errors import InvalidInput
from pos.orders.products import forget_plus, set_plu
from pos.staff import service as staff
from pos.stores.schemas import StoreLayout
from pos.stores.tables import Counter, Device, Listing, ListingPriceChange, Printer, Store
from printers import PrinterConfigError, parse_printer_url

__all__ = ["AppliedLayout", "apply_layout", "apply_layouts_file"]

_LAYOUTS = TypeAdapter(list[StoreLayout])
_NOTHING_MORE: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class AppliedLayout:
    """The store a layout made, and what it withdrew: counter codes, device names, certificates."""

    store_id: int
    code: str
    closed_counters: list[str]
    deactivated_devices: list[str]
    withdrawn_listings: list[str]

    def withdrawn(self) -> str:
        """What the layout withdrew, for people; empty when nothing."""
        parts = [
            f"{what}: {', '.join(names)}"
            for what, names in (
                ("closed counters", self.closed_counters),
                ("deactivated devices (tokens revoked)", self.deactivated_devices),
                ("withdrawn listings", self.withdrawn_listings),
            )
            if names
        ]
        return "; ".join(parts)


async def apply_layout(
    layout: StoreLayout,
    *,
    changed_by: str,
    reason: str = "store layout",
    default_time_zone: str | None = None,
) -> AppliedLayout:
    """Create or update the store described by `layout`, withdrawing what it left out.

    Each store price it sets or changes is recorded with `changed_by` and `reason`. A new store
    whose layout names no time zone gets `default_time_zone` (None: the column's default).
    """
    _check_references(layout)
    _check_printer_urls(layout)
    products = await catalog.product_ids_by_certificate(
        [item.certificate_no for item in layout.listings]
    )
    unknown = [
        item.certificate_no for item in layout.listings if item.certificate_no not in products
    ]
    if unknown:
        raise InvalidInput(f"unknown certificates in store {layout.code}: {', '.join(unknown)}")
    await _check_weighed(layout)
    async with write_transaction():
        store_id = await _upsert(
            Store,
            {"code": layout.code},
            layout.model_dump(
                exclude={"printers", "counters", "devices", "listings"}, exclude_none=True
            ),
            when_new={"time_zone": default_time_zone} if default_time_zone else {},
        )
        await _check_counters_free(store_id, layout)
        printers = {
            printer.name: await _upsert(
                Printer, {"store": store_id, "name": printer.name}, printer.model_dump()
            )
            for printer in layout.printers
        }
        counters = await _upsert_counters(store_id, layout, printers)
        await _upsert_devices(store_id, layout, printers, counters)
        closed = await _close_counters(store_id, list(counters))
        deactivated = await _deactivate_devices(store_id, [d.name for d in layout.devices])
        price_change = _PriceChange(datetime.now(UTC), changed_by, reason)
        withdrawn = await _apply_listings(store_id, layout, products, price_change)
        await _teach_scales(store_id, layout, products)
    return AppliedLayout(store_id, layout.code, closed, deactivated, withdrawn)


async def _upsert_counters(
    store_id: int, layout: StoreLayout, printers: dict[str, int]
) -> dict[str, int]:
    """Create, update and open the layout's counters; their ids by code."""
    counters = {}
    for counter in layout.counters:
        values = {
            **counter.model_dump(exclude={"printer"}),
            "store": store_id,
            "printer": printers.get(counter.printer or ""),
            "active": True,
        }
        counters[counter.code] = await _upsert(Counter, {"code": counter.code}, values)
    return counters


async def _upsert_devices(
    store_id: int, layout: StoreLayout, printers: dict[str, int], counters: dict[str, int]
) -> None:
    """Create, update and activate the layout's devices."""
    for device in layout.devices:
        values = {
            **device.model_dump(),
            "store": store_id,
            "counter": counters.get(device.counter or ""),
            "printer": printers.get(device.printer or ""),
            "active": True,
        }
        await _upsert(Device, {"store": store_id, "name": device.name}, values)


def _check_references(layout: StoreLayout) -> None:
    try:
        if layout.time_zone is not None:
            ZoneInfo(layout.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"store {layout.code}: unknown time zone {layout.time_zone!r}") from None
    for what, names in (
        ("printer", [printer.name for printer in layout.printers]),
        ("counter", [counter.code for counter in layout.counters]),
        ("device", [device.name for device in layout.devices]),
    ):
        if twice := _twice(names):
            raise InvalidInput(f"store {layout.code} names {what} {', '.join(twice)} twice")
    printers = {printer.name for printer in layout.printers}
    counters = {counter.code for counter in layout.counters}
    named = [c.printer for c in layout.counters] + [d.printer for d in layout.devices]
    missing = {name for name in named if name and name not in printers}
    missing |= {d.counter for d in layout.devices if d.counter and d.counter not in counters}
    if missing:
        raise InvalidInput(f"store {layout.code} refers to unknown {', '.join(sorted(missing))}")
    certificates = [item.certificate_no for item in layout.listings]
    if twice := _twice(certificates):
        raise InvalidInput(f"store {layout.code} lists {', '.join(twice)} twice")
    if twice := _twice([normalize_plu(item.plu) for item in layout.listings if item.plu]):
        raise InvalidInput(f"store {layout.code}: PLU {', '.join(twice)} names two listings")


def _twice(values: list[str]) -> list[str]:
    return sorted(value for value, n in collections.Counter(values).items() if n > 1)


async def _check_weighed(layout: StoreLayout) -> None:
    """Refuse a PLU on a product sold by the piece: its scale labels could never sell it."""
    with_plu = [item.certificate_no for item in layout.listings if item.plu]
    if pieces := sorted(await catalog.sold_by_the_piece(with_plu)):
        names = ", ".join(pieces)
        raise InvalidInput(f"store {layout.code}: a PLU is for goods sold by the kg, not {names}")


def _check_printer_urls(layout: StoreLayout) -> None:
    """Refuse a printer URL no connector reads: every receipt sent to it would fail."""
    for printer in layout.printers:
        try:
            parse_printer_url(printer.connection_url)
        except PrinterConfigError as exc:
            raise InvalidInput(f"store {layout.code}, printer {printer.name}: {exc}") from None


async def _check_counters_free(store_id: int, layout: StoreLayout) -> None:
    """Refuse counter codes another store has: the upsert would move that counter here."""
    codes = [counter.code for counter in layout.counters]
    if not codes:
        return
    taken = await Counter.select(Counter.code).where(
        Counter.code.is_in(codes) & (Counter.store != store_id)
    )
    if taken:
        names = ", ".join(sorted(row["code"] for row in taken))
        raise InvalidInput(f"store {layout.code}: counters {names} belong to another store")


async def _upsert(
    table: type[Table],
    key: dict[str, Any],
    values: dict[str, Any],
    *,
    when_new: Mapping[str, Any] = _NOTHING_MORE,
) -> int:
    """The id of the row at `key`, set to `values`: inserted (with `when_new` too) if none."""
    where = [getattr(table, column) == value for column, value in key.items()]
    existing = await table.select(table._meta.primary_key).where(*where).first()
    columns = {getattr(table, column): value for column, value in values.items()}
    if existing is None:
        new = table(**{**key, **when_new, **values})
        rows = await table.insert(new).returning(table._meta.primary_key)
        return int(rows[0]["id"])
    await table.update(columns).where(*where)
    return int(existing["id"])


async def _close_counters(store_id: int, kept: list[str]) -> list[str]:
    """Close the store's open counters whose codes are not `kept`; their codes."""
    open_here = (Counter.store == store_id) & Counter.active.eq(True)
    if kept:
        open_here &= Counter.code.not_in(kept)
    closed = await Counter.update({Counter.active: False}).where(open_here).returning(Counter.code)
    return sorted(row["code"] for row in closed)


async def _deactivate_devices(store_id: int, kept: list[str]) -> list[str]:
    """Deactivate the store's devices not named in `kept`, revoking their tokens; their names."""
    active_here = (Device.store == store_id) & Device.active.eq(True)
    if kept:
        active_here &= Device.name.not_in(kept)
    deactivated = (
        await Device.update({Device.active: False})
        .where(active_here)
        .returning(Device.id, Device.name)
    )
    await staff.revoke_device_tokens([row["id"] for row in deactivated])
    return sorted(row["name"] for row in deactivated)


async def _teach_scales(store_id: int, layout: StoreLayout, products: dict[str, int]) -> None:
    """Make each listing's PLU mean its product on the store's scale labels, and no other PLU."""
    plus = {item.plu: products[item.certificate_no] for item in layout.listings if item.plu}
    await forget_plus(store_id, kept=list(plus))
    for plu, product_id in plus.items():
        await set_plu(store_id, plu, product_id)


class _PriceChange(NamedTuple):
    at: datetime
    by: str
    why: str


async def _apply_listings(
    store_id: int, layout: StoreLayout, products: dict[str, int], price_change: _PriceChange
) -> list[str]:
    """Upsert the listings, withdraw those left out; the certificates withdrawn.

    Every change is under one new catalog revision, so counters reading `since` see it. A new
    listing with a store price, or a listing whose price changed, records the change.
    """
    current = {
        row["product"]: row
        for row in await Listing.select(
            *Listing.all_columns(), Listing.product._.certificate_no.as_alias("certificate_no")
        ).where(Listing.store == store_id)
    }
    new = [item for item in layout.listings if products[item.certificate_no] not in current]
    changed = [
        (row, item)
        for item in layout.listings
        if (row := current.get(products[item.certificate_no]))
        and (row["price_fen"] != item.price_fen or not row["active"])
    ]
    listed = {products[item.certificate_no] for item in layout.listings}
    withdrawn = [row for product, row in current.items() if row["active"] and product not in listed]
    if not new and not changed and not withdrawn:
        return []
    revision = await catalog.bump_revision()
    repriced: list[tuple[int, int | None, int | None]] = []  # listing id, old and new price
    if new:
        inserted = await Listing.insert(
            *[
                Listing(
                    store=store_id,
                    product=products[item.certificate_no],
                    price_fen=item.price_fen,
                    revision=revision,
                )
                for item in new
            ]
        )
        repriced += [
            (row["id"], None, item.price_fen)
            for row, item in zip(inserted, new, strict=True)
            if item.price_fen is not None
        ]
    for row, item in changed:
        await Listing.update(
            {Listing.price_fen: item.price_fen, Listing.active: True, Listing.revision: revision}
        ).where(Listing.id == row["id"])
        if row["price_fen"] != item.price_fen:
            repriced.append((row["id"], row["price_fen"], item.price_fen))
    await _record_prices(repriced, price_change)
    if withdrawn:
        await Listing.update({Listing.active: False, Listing.revision: revision}).where(
            Listing.id.is_in([row["id"] for row in withdrawn])
        )
    return sorted(row["certificate_no"] for row in withdrawn)


async def _record_prices(
    repriced: list[tuple[int, int | None, int | None]], change: _PriceChange
) -> None:
    if repriced:
        await ListingPriceChange.insert(
            *[
                ListingPriceChange(
                    listing=listing_id,
                    old_price_fen=old,
                    new_price_fen=new,
                    changed_at=change.at,
                    changed_by=change.by,
                    reason=change.why,
                )
                for listing_id, old, new in repriced
            ]
        )


async def apply_layouts_file(
    path: Path, *, changed_by: str, default_time_zone: str | None = None
) -> list[AppliedLayout]:
    """Apply every store layout in a JSON file holding a list of them: all, or none."""
    try:
        layouts = _LAYOUTS.validate_json(await anyio.Path(path).read_bytes())
    except ValidationError as exc:
        raise InvalidInput(f"{path}: {exc.error_count()} problem(s): {exc}") from None
    if twice := _twice([layout.code for layout in layouts]):
        raise InvalidInput(f"{path.name} gives store {', '.join(twice)} twice")
    reason = f"store layout {path.name}"[:PRICE_CHANGE_REASON_CHARS]
    applied = []
    async with write_transaction():  # each layout's own transaction joins this one
        for layout in layouts:
            applied.append(
                await apply_layout(
                    layout,
                    changed_by=changed_by,
                    reason=reason,
                    default_time_zone=default_time_zone,
                )
            )
    return applied
