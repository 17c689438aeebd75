"""The tablet's stock work: shipments on their way, receiving them, and counting the shelves.

Scans go through `stock_scans` (barcodes and store-scale labels); each form carries a `key`,
so a tap sent twice counts once. A scan refused for what was scanned or typed comes back as a
`RefusedScan`: the page shows its form again with the message and what was typed by hand. A
receiving's line set, or its confirmation, refused shows the page with the message likewise.
A session's page shows each product's units in its own unit: grams of a product sold by the kg
as kg, others as pieces.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from pos.catalog import service as catalog
from pos.errors import Conflict, InvalidInput, NotFound
from pos.inventory import counts, notices, receiving
from pos.inventory.schemas import (
    CountOut,
    CountScanIn,
    ReceivingLineIn,
    ReceivingOut,
    ReceivingScanIn,
    ReceivingStartIn,
)
from pos.inventory.sync_schemas import ShipmentNoticeOut
from pos.pages.forms import form_day, whole_number
from pos.pages.stock_scans import stock_scan
from pos.pages.tablet import STOCK_ROLES, require, store_of
from pos.staff.actors import StaffActor
from pos.staff.labels import ActorLabel, actor_labels
from pos.stores import service as stores

__all__ = [
    "RefusedScan",
    "StockSheet",
    "count_finish",
    "count_scan",
    "count_start",
    "counted",
    "received",
    "receiving_confirm",
    "receiving_scan",
    "receiving_set_line",
    "receiving_start",
    "refused_scan",
    "shipments",
]

Session = TypeVar("Session", ReceivingOut, CountOut)


@dataclass(frozen=True, slots=True)
class StockSheet(Generic[Session]):
    """A receiving or a count, with the unit ("piece" or "kg") of each of its products, the
    store's time zone, to show its times in, and a label for each one who scanned."""

    session: Session
    units: dict[int, str]
    time_zone: str
    actors: dict[str, ActorLabel]


async def _sheet(session: Session, actors: Iterable[str] = ()) -> StockSheet[Session]:
    units = await catalog.product_units(line.product_id for line in session.lines)
    zone = (await stores.store_rules(session.store_id)).time_zone
    return StockSheet(session, units, zone, await actor_labels(actors))


@dataclass(frozen=True, slots=True)
class RefusedScan:
    """A scan that added nothing: its error code and HTTP status, and the form as it was sent."""

    code: str
    status: int
    typed: Mapping[str, str]


async def refused_scan(scan: Awaitable[object], form: Mapping[str, str]) -> RefusedScan | None:
    """Run a scan of `form` (or another change to a session); why it changed nothing when what
    was scanned or typed is wrong, or the session refuses it."""
    try:
        await scan
    except (InvalidInput, NotFound, Conflict) as exc:
        return RefusedScan(exc.code, exc.status, form)
    except ValidationError:
        return RefusedScan("invalid_input", 422, form)
    return None


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


async def received(actor: StaffActor, store_id: int, receiving_id: int) -> StockSheet[ReceivingOut]:
    """A receiving with its lines."""
    require(actor, STOCK_ROLES, store_id)
    session = await receiving.get_receiving(store_id, receiving_id)
    return await _sheet(session, (line.scanned_by for line in session.lines))


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
    return await receiving.scan(store_id, receiving_id, data, actor=actor.name, idempotency_key=key)


async def receiving_set_line(
    actor: StaffActor, store_id: int, receiving_id: int, line_id: int, form: Mapping[str, str]
) -> ReceivingOut:
    """Set a line's received units (pieces, or grams) and note why they differ, e.g. to 0; a
    best-before day typed corrects the line's expiry, none keeps it."""
    require(actor, STOCK_ROLES, store_id)
    data = ReceivingLineIn(
        quantity=whole_number(form.get("quantity", "")),
        note=form.get("note", "").strip(),
        expires_at=await _expiry(store_id, form.get("expires_on", "")),
    )
    return await receiving.set_line(store_id, receiving_id, line_id, data, actor=actor.name)


async def receiving_confirm(actor: StaffActor, store_id: int, receiving_id: int) -> ReceivingOut:
    """Post the received units to stock."""
    require(actor, STOCK_ROLES, store_id)
    return await receiving.confirm(store_id, receiving_id, actor=actor.name)


async def count_start(actor: StaffActor, store_id: int, form: Mapping[str, str]) -> CountOut:
    """Open a stock count, once per form `key` (a double tap opens one)."""
    await store_of(actor, store_id, STOCK_ROLES)  # it must exist: the session row refers to it
    key = form.get("key", "") or None
    return await counts.start(store_id, actor=actor.name, idempotency_key=key)


async def counted(actor: StaffActor, store_id: int, count_id: int) -> StockSheet[CountOut]:
    """A count with its variance report."""
    require(actor, STOCK_ROLES, store_id)
    return await _sheet(await counts.get_count(store_id, count_id))


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
