"""The tablet's stock work: shipments on their way, receiving them, and counting the shelves.

Scans go through `stock_scans` (barcodes and store-scale labels); each form carries a `key`,
so a tap sent twice counts once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pos.errors import InvalidInput
from pos.inventory import counts, notices, receiving
from pos.inventory.schemas import (
    CountOut,
    CountScanIn,
    ReceivingOut,
    ReceivingScanIn,
    ReceivingStartIn,
)
from pos.inventory.sync_schemas import ShipmentNoticeOut
from pos.pages.forms import form_day, whole_number
from pos.pages.stock_scans import stock_scan
from pos.pages.tablet import STOCK_ROLES, require, store_of
from pos.staff.actors import StaffActor
from pos.stores import service as stores

__all__ = [
    "count_finish",
    "count_scan",
    "count_start",
    "counted",
    "received",
    "receiving_confirm",
    "receiving_scan",
    "receiving_start",
    "shipments",
]


async def shipments(actor: StaffActor, store_id: int) -> list[ShipmentNoticeOut]:
    """Shipment notices on their way to the store."""
    require(actor, STOCK_ROLES, store_id)
    return await notices.store_notices(store_id)


async def receiving_start(
    actor: StaffActor, store_id: int, notice_id: str, key: str
) -> ReceivingOut:
    """Open a receiving, from a notice or blank."""
    await store_of(actor, store_id, STOCK_ROLES)  # it must exist: the session row refers to it
    data = ReceivingStartIn(notice_id=whole_number(notice_id) if notice_id.strip() else None)
    return await receiving.start(store_id, data, actor=actor.name, idempotency_key=key or None)


async def received(actor: StaffActor, store_id: int, receiving_id: int) -> ReceivingOut:
    """A receiving with its lines."""
    require(actor, STOCK_ROLES, store_id)
    return await receiving.get_receiving(store_id, receiving_id)


async def _expiry(store_id: int, day: str) -> datetime | None:
    local_day = form_day(day)
    if local_day is None:
        return None
    if local_day == date.max:  # its next day, when the batch expires, is past the calendar
        raise InvalidInput(f"{day!r} is past any best-before day", code="form_date")
    zone = ZoneInfo((await stores.store_rules(store_id)).time_zone)
    # Goods best before a day sell through all of it: a batch is expired from expires_at on.
    return datetime.combine(local_day + timedelta(days=1), time(), tzinfo=zone)


async def receiving_scan(
    actor: StaffActor, store_id: int, receiving_id: int, form: Mapping[str, str]
) -> ReceivingOut:
    """Add the scanned units with their lot and best-before day, once per form `key`."""
    require(actor, STOCK_ROLES, store_id)
    scanned = await stock_scan(store_id, form)
    data = ReceivingScanIn(
        product_id=scanned.product_id,
        quantity=scanned.units,
        lot=form.get("lot", "").strip(),
        expires_at=await _expiry(store_id, form.get("expires_on", "")),
    )
    key = form.get("key", "") or None
    return await receiving.scan(store_id, receiving_id, data, idempotency_key=key)


async def receiving_confirm(actor: StaffActor, store_id: int, receiving_id: int) -> ReceivingOut:
    """Post the received units to stock."""
    require(actor, STOCK_ROLES, store_id)
    return await receiving.confirm(store_id, receiving_id, actor=actor.name)


async def count_start(actor: StaffActor, store_id: int, form: Mapping[str, str]) -> CountOut:
    """Open a stock count, once per form `key` (a double tap opens one)."""
    await store_of(actor, store_id, STOCK_ROLES)  # it must exist: the session row refers to it
    key = form.get("key", "") or None
    return await counts.start(store_id, actor=actor.name, idempotency_key=key)


async def counted(actor: StaffActor, store_id: int, count_id: int) -> CountOut:
    """A count with its variance report."""
    require(actor, STOCK_ROLES, store_id)
    return await counts.get_count(store_id, count_id)


async def count_scan(
    actor: StaffActor, store_id: int, count_id: int, form: Mapping[str, str]
) -> CountOut:
    """Add counted units of the scanned product, once per form `key`."""
    require(actor, STOCK_ROLES, store_id)
    scanned = await stock_scan(store_id, form)
    data = CountScanIn(product_id=scanned.product_id, quantity=scanned.units)
    key = form.get("key", "") or None
    return await counts.scan(store_id, count_id, data, idempotency_key=key)


async def count_finish(actor: StaffActor, store_id: int, count_id: int) -> CountOut:
    """Post the counts as corrections."""
    require(actor, STOCK_ROLES, store_id)
    return await counts.finish(store_id, count_id, actor=actor.name)
