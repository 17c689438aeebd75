"""Receiving goods on a tablet: from a shipment notice or blank, scan, confirm, post once.

Confirming flips the session from open to confirmed with one conditional UPDATE; only the call
that flips it posts the receipts, so a confirmation sent again (or twice at once) posts nothing
more and answers with the confirmed session. Receiving a notice that ships a restock order adds
what was received to the order, in the same transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from pos.db import write_transaction
from pos.db.keyed import once_per_key
from pos.errors import Conflict, InvalidInput, NotFound
from pos.inventory import batches, ledger, replenishment
from pos.inventory.ledger import Entry
from pos.inventory.notices import hold_notice
from pos.inventory.scans import scanned_product
from pos.inventory.schemas import (
    MAX_STOCK_QUANTITY,
    ReceivingLineIn,
    ReceivingLineOut,
    ReceivingOut,
    ReceivingScanIn,
    ReceivingStartIn,
)
from pos.inventory.sessions import held_open, new_scan
from pos.inventory.tables import ReceivingLine, ReceivingSession, ShipmentNotice

__all__ = ["confirm", "get_receiving", "scan", "set_line", "start"]

_R = ReceivingSession
_L = ReceivingLine
_NOTE_LENGTH = 255  # ReceivingLine.note's


async def start(
    store_id: int, data: ReceivingStartIn, *, actor: str, idempotency_key: str | None
) -> ReceivingOut:
    """Open a receiving session, its lines taken from the notice when there is one."""
    key = f"store:{store_id}:{idempotency_key}" if idempotency_key else None

    async def opened() -> int:
        # Held while its lines are copied, so a newer version saved meanwhile updates them too.
        notice = await hold_notice(data.notice_id, store_id) if data.notice_id is not None else None
        row = _R(store=store_id, notice=data.notice_id, started_by=actor, idempotency_key=key)
        session_id = int((await _R.insert(row).returning(_R.id))[0]["id"])
        lines = [
            _L(
                session=session_id,
                product=line.product_id,
                expected=line.quantity,
                lot=line.lot,
                produced_on=line.produced_on,
                expires_at=line.expires_at,
            )
            for line in (notice.lines if notice else [])
        ]
        if lines:
            await _L.insert(*lines)
        return session_id

    return await get_receiving(store_id, await once_per_key(key, _by_key, opened))


async def _by_key(key: str) -> int | None:
    row = await _R.select(_R.id).where(_R.idempotency_key == key).first()
    return None if row is None else int(row["id"])


async def scan(
    store_id: int,
    session_id: int,
    data: ReceivingScanIn,
    *,
    actor: str,
    idempotency_key: str | None,
) -> ReceivingOut:
    """Add scanned units to the line of the same product and batch facts, or start a line; a
    repeated key adds nothing and answers with the receiving as it is."""
    product = await scanned_product(store_id, data.product_id, data.barcode)
    async with write_transaction():
        if await new_scan("receiving", session_id, idempotency_key):
            await _open(store_id, session_id)
            await _add(session_id, product.id, data, actor)
    return await get_receiving(store_id, session_id)


async def _add(session_id: int, product_id: int, data: ReceivingScanIn, actor: str) -> None:
    line = await _matching_line(session_id, product_id, data)
    _refuse_expired(product_id, line["expires_at"] if line else data.expires_at)
    if line is None:
        row = _L(
            session=session_id,
            product=product_id,
            quantity=data.quantity,
            lot=data.lot,
            produced_on=data.produced_on,
            expires_at=data.expires_at,
            scanned_by=actor,
            scanned_at=datetime.now(UTC),
        )
        await _L.insert(row)
    else:
        await _add_to(line, product_id, data, actor)


def _refuse_expired(product_id: int, expires_at: datetime | None) -> None:
    """Goods past their expiry never reach the shelf: refuse them, or correct the date."""
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise InvalidInput(
            f"product {product_id}: this batch expired at {expires_at.isoformat()};"
            " do not receive it (set its line to 0 with a note), or correct the expiry",
            code="receiving_expired",
            product_id=product_id,
            expires_at=expires_at.isoformat(),
        )


async def _matching_line(
    session_id: int, product_id: int, data: ReceivingScanIn
) -> dict[str, Any] | None:
    """The product's first line with every batch fact the scan states (lot, dates).

    A fact the scan leaves blank is taken as the line's: announced goods scanned without
    typing their lot or expiry add to the notice's line and keep the expiry the supplier sent.
    """
    rows = (
        await _L.select(_L.id, _L.quantity, _L.lot, _L.produced_on, _L.expires_at)
        .where((_L.session == session_id) & (_L.product == product_id))
        .order_by(_L.id)
    )
    stated = {"lot": data.lot, "produced_on": data.produced_on, "expires_at": data.expires_at}
    facts = {name: value for name, value in stated.items() if value}
    return next((row for row in rows if all(row[k] == v for k, v in facts.items())), None)


async def _add_to(line: dict[str, Any], product_id: int, data: ReceivingScanIn, actor: str) -> None:
    """Add the scanned units to a line of the same batch."""
    if line["quantity"] + data.quantity > MAX_STOCK_QUANTITY:
        raise ledger.over_limit(product_id, line["quantity"] + data.quantity)
    added: dict[Any, Any] = {
        _L.quantity: _L.quantity + data.quantity,
        _L.scanned_by: actor,
        _L.scanned_at: datetime.now(UTC),
    }
    await _L.update(added).where(_L.id == line["id"])


async def set_line(
    store_id: int, session_id: int, line_id: int, data: ReceivingLineIn, *, actor: str
) -> ReceivingOut:
    """Confirm a line's quantity, say why it differs from the notice, and correct its batch facts.

    A correction is recorded in the note, with what the line said before. A line corrected into
    the batch of another line of the receiving takes that line's units in: one batch, one line.
    """
    async with write_transaction():
        await _open(store_id, session_id)
        line = await _L.select().where((_L.id == line_id) & (_L.session == session_id)).first()
        if line is None:
            raise NotFound(f"no line {line_id} in this receiving", code="receiving_line_not_found")
        stated = {"lot": data.lot, "produced_on": data.produced_on, "expires_at": data.expires_at}
        corrected: dict[str, Any] = {
            k: v for k, v in stated.items() if v is not None and v != line[k]
        }
        values: dict[Any, Any] = {"quantity": data.quantity, "note": data.note, **corrected}
        if corrected:
            values |= await _corrected(line, values, list(corrected))
        if values["quantity"]:
            _refuse_expired(line["product"], corrected.get("expires_at", line["expires_at"]))
        values |= {"scanned_by": actor, "scanned_at": datetime.now(UTC)}
        await _L.update(values).where(_L.id == line_id)
    return await get_receiving(store_id, session_id)


async def _corrected(
    line: dict[str, Any], values: dict[str, Any], facts: list[str]
) -> dict[str, Any]:
    """The note recording which `facts` were corrected from what, and, when the line is now of
    the batch of another line, that line's units and expected units, that line deleted."""
    was = ", ".join(f"{fact} {_shown(line[fact])}" for fact in facts)
    notes, merged = [values["note"], f"corrected from {was}"], {}
    batch = {fact: values.get(fact, line[fact]) for fact in ("lot", "produced_on", "expires_at")}
    rows = (
        await _L.select()
        .where(
            (_L.session == line["session"])
            & (_L.product == line["product"])
            & (_L.id != line["id"])
        )
        .order_by(_L.id)
    )
    twin = next((row for row in rows if all(row[k] == v for k, v in batch.items())), None)
    if twin is not None:
        quantity = values["quantity"] + twin["quantity"]
        if quantity > MAX_STOCK_QUANTITY:
            raise ledger.over_limit(line["product"], quantity)
        both = (line["expected"], twin["expected"])
        expected = None if both == (None, None) else sum(n or 0 for n in both)
        merged = {"quantity": quantity, "expected": expected}
        by = twin["scanned_by"] or "nobody"
        notes += [twin["note"], f"took in line {twin['id']}: {twin['quantity']} scanned by {by}"]
        await _L.delete().where(_L.id == twin["id"])
    note = "; ".join(part for part in notes if part)
    if len(note) > _NOTE_LENGTH:
        raise InvalidInput(
            f"the note and the record of the correction pass {_NOTE_LENGTH} characters:"
            " shorten the note",
            code="receiving_note_too_long",
        )
    return merged | {"note": note}


def _shown(fact: object) -> str:
    if isinstance(fact, date):  # and datetime
        return fact.isoformat()
    return str(fact) if fact else "none"


async def confirm(store_id: int, session_id: int, *, actor: str) -> ReceivingOut:
    """Post a receipt movement (and a batch) per line, once however often it is called.

    Refused, the session left open, if a batch expired since it was scanned (a session may sit
    open for hours): staff set its line to 0 with a note, then confirm again.
    """
    now = datetime.now(UTC)
    async with write_transaction():
        flipped = (
            await _R.update({_R.status: "confirmed", _R.confirmed_by: actor, _R.confirmed_at: now})
            .where((_R.id == session_id) & (_R.store == store_id) & (_R.status == "open"))
            .returning(_R.notice)
        )
        if flipped:
            lines = (
                await _L.select()
                .where((_L.session == session_id) & (_L.quantity > 0))
                .order_by(_L.id)
            )
            for line in lines:
                _refuse_expired(line["product"], line["expires_at"])
            if flipped[0]["notice"] is not None:
                await _receive_notice(store_id, flipped[0]["notice"], lines)
            await _post(store_id, session_id, lines, actor)
    return await get_receiving(store_id, session_id)


async def _receive_notice(store_id: int, notice_id: int, lines: Sequence[dict[str, Any]]) -> None:
    """Mark the notice received and add the lines to its restock order, if it ships one.

    Refused (nothing posted) if the notice is no longer this store's: another receiving of it
    may have been confirmed first, or the supplier may have sent a new version addressed to
    another store since this receiving started.
    """
    received = (
        await ShipmentNotice.update({ShipmentNotice.status: "received"})
        .where(
            (ShipmentNotice.id == notice_id)
            & (ShipmentNotice.store == store_id)
            & (ShipmentNotice.status == "open")
        )
        .returning(ShipmentNotice.restock_order)
    )
    if not received:
        raise Conflict(
            "this notice was received by another receiving or sent to another store;"
            " check the shipment notices and receive what arrived without this notice",
            code="notice_not_open",
        )
    if (order_id := received[0]["restock_order"]) is not None:
        await replenishment.record_received(order_id, _units(lines))


def _units(lines: Sequence[dict[str, Any]]) -> Counter[int]:
    """The units of each product, refused (409) as posting them would be if a level cannot
    hold them: past an INTEGER, PostgreSQL would refuse the order's sum of them first (a 500)."""
    units: Counter[int] = Counter()
    for line in lines:
        units[line["product"]] += line["quantity"]
    for product_id, quantity in units.items():
        if quantity > MAX_STOCK_QUANTITY:
            raise ledger.over_limit(product_id, quantity)
    return units


async def _post(
    store_id: int, session_id: int, lines: Sequence[dict[str, Any]], actor: str
) -> None:
    reference = f"receiving:{session_id}"
    for line in sorted(lines, key=lambda row: (row["product"], row["id"])):
        batch_id = await batches.add(
            store_id,
            line["product"],
            line["quantity"],
            lot=line["lot"],
            produced_on=line["produced_on"],
            expires_at=line["expires_at"],
            reference=reference,
        )
        entry = Entry(actor, line["note"] or "received", reference)
        await ledger.move(
            store_id, line["product"], line["quantity"], "receipt", entry, batch_id=batch_id
        )


async def _open(store_id: int, session_id: int) -> None:
    if await held_open(_R, store_id, session_id):
        return
    if not await _R.exists().where((_R.id == session_id) & (_R.store == store_id)):
        raise NotFound(f"no receiving {session_id} here", code="receiving_not_found")
    raise Conflict("this receiving is confirmed already", code="receiving_confirmed")


async def get_receiving(store_id: int, session_id: int) -> ReceivingOut:
    """A receiving session with its lines and their discrepancies."""
    row = await _R.select().where((_R.id == session_id) & (_R.store == store_id)).first()
    if row is None:
        raise NotFound(f"no receiving {session_id} here", code="receiving_not_found")
    lines = (
        await _L.select(*_L.all_columns(), _L.product._.name_zh.as_alias("product_name"))
        .where(_L.session == session_id)
        .order_by(_L.id)
    )
    return ReceivingOut(
        id=row["id"],
        store_id=store_id,
        notice_id=row["notice"],
        status=row["status"],
        started_by=row["started_by"],
        started_at=row["started_at"],
        confirmed_by=row["confirmed_by"],
        confirmed_at=row["confirmed_at"],
        lines=[_line_out(line) for line in lines],
    )


def _line_out(row: dict[str, Any]) -> ReceivingLineOut:
    return ReceivingLineOut(
        id=row["id"],
        product_id=row["product"],
        product_name=row["product_name"],
        expected=row["expected"],
        quantity=row["quantity"],
        lot=row["lot"],
        produced_on=row["produced_on"],
        expires_at=row["expires_at"],
        note=row["note"],
        discrepancy=row["quantity"] - (row["expected"] or 0),
        scanned_by=row["scanned_by"],
        scanned_at=row["scanned_at"],
    )
