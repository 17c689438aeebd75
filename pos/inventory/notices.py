"""Shipment notices: suppliers push them (signed), stores receive against them.

A notice is keyed by the supplier's reference; a version whose `updated_at` is not newer than
ours is ignored, so repeats and late arrivals change nothing. A received notice is final.
A notice may ship one of the store's restock orders of this supplier; once it names one, its
newer versions must name the same.

A newer version changes what the notice's open receivings expect, not what staff scanned: the
clerk counting the delivery keeps their work, and the discrepancies are against what the
supplier now says it shipped, the version a dispute with it is about.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from piccolo.custom_types import Combinable
from pydantic import ValidationError

from pos.catalog import service as catalog
from pos.db import write_transaction
from pos.db.unique import DUPLICATE_KEY
from pos.errors import Conflict, NotFound
from pos.inventory import replenishment
from pos.inventory.sessions import held_open
from pos.inventory.supplier_sync import Problem, refused, validation_problems, verified_body
from pos.inventory.sync_schemas import (
    ShipmentLineIn,
    ShipmentLineOut,
    ShipmentNoticeIn,
    ShipmentNoticeOut,
)
from pos.inventory.tables import (
    ReceivingLine,
    ReceivingSession,
    RestockOrder,
    ShipmentLine,
    ShipmentNotice,
)
from pos.staff.actors import SupplierActor
from pos.stores import service as stores

__all__ = ["get_notice", "hold_notice", "push_notice", "store_notices"]

_N = ShipmentNotice
_L = ShipmentLine
_RS = ReceivingSession
_RL = ReceivingLine


async def push_notice(
    actor: SupplierActor, headers: Mapping[str, str], body: bytes
) -> ShipmentNoticeOut:
    """A supplier's signed shipment notice: new, a newer version, or ignored as stale."""
    data = _parse(await verified_body(actor, headers, body))
    store_ids = await stores.store_ids_by_code([data.store_code])
    certificates = [line.certificate_no for line in data.lines]
    ids = await catalog.supplier_product_ids(actor.supplier_id, certificates)
    problems = [
        Problem(n, f"certificate {line.certificate_no} is not a product of yours")
        for n, line in enumerate(data.lines, start=1)
        if line.certificate_no not in ids
    ]
    problems[:0] = await _order_problems(actor.supplier_id, data, store_ids.get(data.store_code))
    if data.store_code not in store_ids:
        problems.insert(0, Problem(0, f"store_code: no store {data.store_code}"))
    if problems:
        raise refused(problems, "the notice")
    notice_id, stale = await _saved(actor.supplier_id, store_ids[data.store_code], data, ids)
    return await get_notice(notice_id, stale=stale)


def _parse(body: bytes) -> ShipmentNoticeIn:
    try:
        return ShipmentNoticeIn.model_validate_json(body)
    except ValidationError as exc:
        problems = validation_problems(exc, list_field="lines", first_line=1)
        raise refused(problems, "the notice") from None


async def _order_problems(
    supplier_id: int, data: ShipmentNoticeIn, store_id: int | None
) -> list[Problem]:
    """Why the restock order the notice names is not one it may ship (its status aside)."""
    order_id = data.restock_order_id
    if order_id is None:
        return []
    order = (
        await RestockOrder.select(RestockOrder.store, RestockOrder.supplier)
        .where(RestockOrder.id == order_id)
        .first()
    )
    if order is None or order["supplier"] != supplier_id:
        return [Problem(0, f"restock_order_id: no restock order {order_id} of yours")]
    if store_id is not None and order["store"] != store_id:
        return [Problem(0, f"restock_order_id: restock order {order_id} is another store's")]
    return []


class _ReceivingStarted(Exception):
    """A receiving of the notice was started while a newer version of it was being saved."""


async def _saved(
    supplier_id: int, store_id: int, data: ShipmentNoticeIn, ids: Mapping[str, int]
) -> tuple[int, bool]:
    """`_save` in a write transaction, again when it lost a race it can win on a second try."""
    duplicates = 0
    while True:
        try:
            async with write_transaction():
                return await _save(supplier_id, store_id, data, ids)
        except DUPLICATE_KEY:  # the same notice pushed twice at once: the second sees the first
            duplicates += 1
            if duplicates > 1:
                raise
        except _ReceivingStarted:  # it has committed: the next try holds it with the others
            continue


async def _save(
    supplier_id: int, store_id: int, data: ShipmentNoticeIn, ids: Mapping[str, int]
) -> tuple[int, bool]:
    """The notice's id, and True when our version is as new and nothing changed."""
    known = (
        await _N.select(_N.id)
        .where((_N.supplier == supplier_id) & (_N.reference == data.reference))
        .first()
    )
    if known is None:
        row = _N(
            supplier=supplier_id,
            store=store_id,
            reference=data.reference,
            expected_at=data.expected_at,
            supplier_updated_at=data.updated_at,
            restock_order=data.restock_order_id,
        )
        notice_id = int((await _N.insert(row).returning(_N.id))[0]["id"])
    else:
        notice_id = int(known["id"])
        receivings = await _hold_receivings(notice_id)
        if not await _replaced(notice_id, store_id, data):
            await _refuse_unless_stale(notice_id, data)
            return notice_id, True
        # A receiving started since `_hold_receivings` looked held the notice while it copied the
        # old lines (`hold_notice`), so it has committed now that we hold the notice. Holding it
        # now would take a receiving after the notice, the reverse of the order confirm takes
        # them in (a deadlock): start over, holding it with the others first.
        if [row["id"] for row in await _open_receivings(notice_id)] != receivings:
            raise _ReceivingStarted
        await _L.delete().where(_L.notice == notice_id)
        for session_id in receivings:
            await _expect_anew(session_id, data.lines, ids)
    if data.restock_order_id is not None:
        await replenishment.ship_order(data.restock_order_id)
    lines = [
        _L(
            notice=notice_id,
            product=ids[line.certificate_no],
            quantity=line.quantity,
            lot=line.lot,
            produced_on=line.produced_on,
            expires_at=line.expires_at,
        )
        for line in data.lines
    ]
    await _L.insert(*lines)
    return notice_id, False


async def _hold_receivings(notice_id: int) -> list[int]:
    """Lock the notice's open receivings, in id order, before the notice: confirming one locks
    it, then the notice, and the same order cannot deadlock."""
    rows = await _open_receivings(notice_id)
    return [row["id"] for row in rows if await held_open(_RS, row["store"], row["id"])]


async def _open_receivings(notice_id: int) -> list[dict[str, Any]]:
    return list(
        await _RS.select(_RS.id, _RS.store)
        .where((_RS.notice == notice_id) & (_RS.status == "open"))
        .order_by(_RS.id)
    )


async def _expect_anew(
    session_id: int, lines: Sequence[ShipmentLineIn], ids: Mapping[str, int]
) -> None:
    """A receiving expects what the newer version lists; what staff scanned or set stays.

    Each line of the version finds the receiving's line of the same batch, as starting from the
    notice made it, or a new one. A line it no longer lists that nobody touched is dropped.
    """
    rows = list(
        await _RL.select(_RL.id, _RL.product, _RL.lot, _RL.produced_on, _RL.expires_at)
        .where(_RL.session == session_id)
        .order_by(_RL.id)
    )
    await _RL.update({_RL.expected: None}).where(_RL.session == session_id)
    for line in lines:
        batch = (ids[line.certificate_no], line.lot, line.produced_on, line.expires_at)
        row = next((row for row in rows if _batch_of(row) == batch), None)
        if row is None:
            new = _RL(
                session=session_id,
                product=batch[0],
                expected=line.quantity,
                lot=line.lot,
                produced_on=line.produced_on,
                expires_at=line.expires_at,
            )
            await _RL.insert(new)
        else:
            rows.remove(row)
            await _RL.update({_RL.expected: line.quantity}).where(_RL.id == row["id"])
    untouched = _RL.expected.is_null() & _RL.scanned_at.is_null() & (_RL.quantity == 0)
    await _RL.delete().where((_RL.session == session_id) & untouched)


def _batch_of(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return row["product"], row["lot"], row["produced_on"], row["expires_at"]


async def _replaced(notice_id: int, store_id: int, data: ShipmentNoticeIn) -> bool:
    """Take a newer version while the notice is open and ships the same order, if any."""
    same_order: Combinable = _N.restock_order.is_null()
    if data.restock_order_id is not None:
        same_order |= _N.restock_order == data.restock_order_id
    values: dict[Any, Any] = {
        _N.store: store_id,
        _N.expected_at: data.expected_at,
        _N.supplier_updated_at: data.updated_at,
        _N.restock_order: data.restock_order_id,
    }
    replaced = (
        await _N.update(values)
        .where(
            (_N.id == notice_id)
            & (_N.status == "open")
            & (_N.supplier_updated_at < data.updated_at)
            & same_order
        )
        .returning(_N.id)
    )
    return bool(replaced)


async def _refuse_unless_stale(notice_id: int, data: ShipmentNoticeIn) -> None:
    """Why a version was not taken: ours is as new (fine, it is ignored), or refuse it."""
    row = await _N.select().where(_N.id == notice_id).first()
    assert row is not None  # notices are never deleted
    if row["supplier_updated_at"] >= data.updated_at:
        return
    if row["status"] != "open":
        raise Conflict("this notice was received already", code="notice_received")
    raise Conflict(
        f"this notice ships restock order {row['restock_order']}; send another notice"
        " (another reference) for anything else",
        code="notice_order_changed",
    )


async def hold_notice(notice_id: int, store_id: int) -> ShipmentNoticeOut:
    """The store's open notice, locked until the caller's transaction ends; refused if it is not
    open for the store.

    A receiving copies the notice's lines while it holds it: a newer version saved at the same
    time either committed first and is copied, or waits and then finds the receiving (`_save`).
    It cannot deadlock: the receiving holds nothing else anyone waits for (its new rows are not
    seen until it commits), and pushes and confirmations take the notice after the receivings
    they hold, never a receiving after the notice.
    """
    held = (
        await _N.update({_N.status: "open"})
        .where((_N.id == notice_id) & (_N.store == store_id) & (_N.status == "open"))
        .returning(_N.id)
    )
    notice = await get_notice(notice_id)
    if not held:
        raise Conflict("this notice is not open for this store", code="notice_not_open")
    return notice


async def get_notice(notice_id: int, *, stale: bool = False) -> ShipmentNoticeOut:
    """A notice with its lines; `stale` marks the answer to an ignored older version."""
    row = await _N.select().where(_N.id == notice_id).first()
    if row is None:
        raise NotFound(f"no shipment notice {notice_id}", code="notice_not_found")
    lines = await _L.select().where(_L.notice == row["id"]).order_by(_L.id)
    return ShipmentNoticeOut(
        id=row["id"],
        supplier_id=row["supplier"],
        store_id=row["store"],
        reference=row["reference"],
        status=row["status"],
        expected_at=row["expected_at"],
        updated_at=row["supplier_updated_at"],
        restock_order_id=row["restock_order"],
        lines=[
            ShipmentLineOut(
                product_id=line["product"],
                quantity=line["quantity"],
                lot=line["lot"],
                produced_on=line["produced_on"],
                expires_at=line["expires_at"],
            )
            for line in lines
        ],
        stale=stale,
    )


async def store_notices(store_id: int, *, status: str = "open") -> list[ShipmentNoticeOut]:
    """The store's notices in a status, oldest expected first."""
    rows = (
        await _N.select(_N.id).where((_N.store == store_id) & (_N.status == status)).order_by(_N.id)
    )
    return [await get_notice(row["id"]) for row in rows]
