"""The stock ledger: every change is a movement row, and the level row moves with it atomically.

A level is the latest count plus every movement that happened after it. So a movement that
happened before the latest count (an offline tablet reporting late) is recorded but changes
nothing, and a count that happened before the latest one is recorded but superseded.
Reading a level is one row, however long the ledger grows.

Every function here joins the caller's write transaction. Concurrency: a movement changes its
level row with one conditional UPDATE first, so on PostgreSQL it holds that row's lock until its
transaction ends; a count locks the same row before it sums the later movements, and a transfer
before it reads the batches. Batches are touched only after the level row, so locks are always
taken in the same order. Every rise of a level comes through here (orders only hold, release and
sell), so here a level is kept within what its INTEGER column holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from piccolo.custom_types import Combinable
from piccolo.engine.sqlite import SQLiteEngine
from piccolo.query import WhereRaw
from piccolo.query.functions.aggregate import Sum

from pos.db import current_engine, insert_new
from pos.errors import Conflict, InvalidInput
from pos.inventory import batches, levels
from pos.inventory.schemas import MAX_STOCK_QUANTITY, MovementOut
from pos.inventory.tables import StockLevel, StockMovement

__all__ = [
    "MAX_CLOCK_SKEW",
    "Entry",
    "MovementKind",
    "after_counts",
    "append",
    "append_all",
    "count",
    "level_at",
    "locked_level",
    "move",
    "movement",
    "movement_out",
    "over_limit",
    "reported_time",
]

MovementKind = Literal["receipt", "sale", "return", "adjustment", "write_off", "transfer", "count"]
MAX_CLOCK_SKEW = timedelta(minutes=5)
_TICK = timedelta(microseconds=1)

_S = StockLevel
_M = StockMovement


@dataclass(frozen=True, slots=True)
class Entry:
    """Who made a movement, when it happened, why, and the paper it belongs to."""

    actor: str
    reason: str = ""
    reference: str = ""
    occurred_at: datetime | None = None
    idempotency_key: str | None = None

    def when(self, now: datetime) -> datetime:
        """When it happened: now unless reported."""
        return reported_time(self.occurred_at, now)


def reported_time(at: datetime | None, now: datetime) -> datetime:
    """A time a device reports, in UTC (now when none or ahead); far in the future is refused."""
    if at is None:
        return now
    if at > now + MAX_CLOCK_SKEW:
        raise InvalidInput("that time is in the future", code="occurred_in_future")
    # A clock running ahead must not place its event after later ones reported by right clocks.
    return min(at.astimezone(UTC), now)


def _row(store_id: int, product_id: int) -> Any:
    return (_S.store == store_id) & (_S.product == product_id)


def _short(product_id: int, delta: int) -> Conflict:
    return Conflict(
        f"product {product_id}: the stock cannot go down by {-delta}",
        code="out_of_stock",
        product_id=product_id,
    )


def _held(product_id: int) -> Conflict:
    return Conflict(
        f"product {product_id}: unpaid orders hold these units;"
        " wait until those orders are paid or closed",
        code="stock_below_held",
        product_id=product_id,
    )


def over_limit(product_id: int, units: int) -> Conflict:
    """The error for `units` of a product, more than a stock level may hold."""
    return Conflict(
        f"product {product_id}: {units} units are more than a stock level holds"
        f" ({MAX_STOCK_QUANTITY})",
        code="stock_over_limit",
        product_id=product_id,
    )


def _stays_within_bounds(delta: int) -> Any:
    """The level stays at or above what orders hold, and within what its column holds.

    Never `on_hand + delta` for a rise: PostgreSQL would fail on an INTEGER past its range.
    """
    if delta < 0:
        return WhereRaw("on_hand + {} >= held", delta)
    return _S.on_hand <= MAX_STOCK_QUANTITY - delta


async def move(
    store_id: int,
    product_id: int,
    delta: int,
    kind: MovementKind,
    entry: Entry,
    *,
    batch_id: int | None = None,
) -> MovementOut:
    """Record a movement and apply it to the level (unless a later count already includes it).

    A movement without a reported time happens now, after every count recorded so far.
    """
    now = datetime.now(UTC)
    reported = None if entry.occurred_at is None else entry.when(now)
    applied, occurred = await _shift_level(store_id, product_id, delta, reported, now)
    if applied and delta < 0:
        if batch_id is not None:
            await batches.take(batch_id, -delta)
        await batches.trim(store_id, product_id, now)
        await _keep_held_fresh(store_id, product_id, now)
    return await append(
        movement(
            store_id,
            product_id,
            kind,
            delta,
            entry,
            occurred_at=occurred,
            applied=applied,
            batch_id=batch_id,
        )
    )


async def _keep_held_fresh(store_id: int, product_id: int, now: datetime) -> None:
    """Refuse a decrease that leaves what unpaid orders hold only in expired batches.

    Paid, such an order would be filled from them (`fefo.plan_sale`'s last resort).
    """
    level = (await levels.stock(store_id, [product_id], now))[product_id]
    if level.on_hand - level.expired < level.held:
        raise _held(product_id)


def after_counts(now: datetime, counted_at: datetime | None) -> datetime:
    """When a movement happening now took place: after the latest count, whatever the clocks."""
    return max(now, counted_at + _TICK) if counted_at is not None else now


async def _shift_level(
    store_id: int, product_id: int, delta: int, reported: datetime | None, now: datetime
) -> tuple[bool, datetime]:
    """Whether the level moved, and when the movement happened."""
    after_count = (
        _S.counted_at.is_null() | (_S.counted_at < reported) if reported is not None else None
    )
    where = _row(store_id, product_id) & _stays_within_bounds(delta)
    for _ in range(2):  # the second round follows a racing insert of the level row
        changed = (
            await _S.update({_S.on_hand: _S.on_hand + delta, _S.updated_at: now})
            .where(where & after_count if after_count is not None else where)
            .returning(_S.counted_at)
        )
        if changed:
            return True, reported or after_counts(now, changed[0]["counted_at"])
        row = await _S.select(_S.on_hand, _S.counted_at).where(_row(store_id, product_id)).first()
        if row is not None:
            counted_at = row["counted_at"]
            if reported is not None and counted_at is not None and counted_at >= reported:
                return False, reported
            if delta < 0 and row["on_hand"] + delta >= 0:
                raise _held(product_id)
            if delta < 0:
                raise _short(product_id, delta)
            raise over_limit(product_id, row["on_hand"] + delta)
        if delta < 0:
            raise _short(product_id, delta)
        new = _S(store=store_id, product=product_id, on_hand=delta, held=0, updated_at=now)
        if await _S.insert(new).on_conflict(action="DO NOTHING").returning(_S.id):
            return True, reported or now
    raise _short(product_id, delta)


async def count(store_id: int, product_id: int, counted: int, entry: Entry) -> MovementOut:
    """Record a physical count: the level becomes `counted` plus whatever moved after it."""
    if counted < 0:
        raise InvalidInput(f"a count of {counted} is not possible", code="stock_negative")
    now = datetime.now(UTC)
    occurred = entry.when(now)
    level = await locked_level(store_id, product_id, now)
    if level["counted_at"] is not None and level["counted_at"] >= occurred:
        return await append(
            movement(
                store_id,
                product_id,
                "count",
                0,
                entry,
                occurred_at=occurred,
                applied=False,
                counted=counted,
            )
        )
    on_hand = counted + await _moved(store_id, product_id, _M.occurred_at > occurred)
    if on_hand > MAX_STOCK_QUANTITY:
        raise over_limit(product_id, on_hand)
    if on_hand < level["held"]:
        raise Conflict(
            f"product {product_id}: unpaid orders hold more than {on_hand}",
            code="stock_below_held",
            product_id=product_id,
        )
    await _S.update({_S.on_hand: on_hand, _S.counted_at: occurred, _S.updated_at: now}).where(
        _S.id == level["id"]
    )
    await batches.trim(store_id, product_id, now)
    change = on_hand - level["on_hand"]
    return await append(
        movement(
            store_id, product_id, "count", change, entry, occurred_at=occurred, counted=counted
        )
    )


async def level_at(store_id: int, product_id: int, moment: datetime) -> int:
    """What the level was at `moment`.

    Today's level less what moved after `moment`, unless a later count reset the level: then the
    last count at or before `moment` (none: nothing) plus what moved between it and `moment`.
    """
    row = await _S.select(_S.on_hand, _S.counted_at).where(_row(store_id, product_id)).first()
    if row is None or row["counted_at"] is None or row["counted_at"] <= moment:
        on_hand = int(row["on_hand"]) if row else 0
        return on_hand - await _moved(store_id, product_id, _M.occurred_at > moment)
    last = await _last_count(store_id, product_id, moment)
    if last is None:
        return await _moved(store_id, product_id, _M.occurred_at <= moment)
    between = (_M.occurred_at > last["occurred_at"]) & (_M.occurred_at <= moment)
    return int(last["counted"]) + await _moved(store_id, product_id, between)


async def locked_level(store_id: int, product_id: int, now: datetime) -> dict[str, Any]:
    """The level row, made when missing and locked (on PostgreSQL) until the transaction ends."""
    new = _S(store=store_id, product=product_id, on_hand=0, held=0, updated_at=now)
    await _S.insert(new).on_conflict(action="DO NOTHING")
    select = _S.select(_S.id, _S.on_hand, _S.held, _S.counted_at).where(_row(store_id, product_id))
    if not isinstance(current_engine(), SQLiteEngine):
        select = select.lock_rows()
    row: dict[str, Any] | None = await select.first()
    assert row is not None  # inserted above when missing
    return row


def _ledger(store_id: int, product_id: int) -> Any:
    return (_M.store == store_id) & (_M.product == product_id)


async def _last_count(store_id: int, product_id: int, moment: datetime) -> dict[str, Any] | None:
    return await (
        _M.select(_M.counted, _M.occurred_at)
        .where(
            _ledger(store_id, product_id),
            _M.kind == "count",
            _M.applied.eq(True),
            _M.occurred_at <= moment,
        )
        .order_by(_M.occurred_at, ascending=False)
        .first()
    )


async def _moved(store_id: int, product_id: int, when: Combinable) -> int:
    """The sum of the movements, counts aside, that happened `when`, applied or not.

    One not applied happened all the same: a count after it took it in. None of those happened
    after the level's latest count, so today's level less the movements after a moment past that
    count is right too.
    """
    row = await (
        _M.select(Sum(_M.delta))
        .where(_ledger(store_id, product_id), when, _M.kind != "count")
        .first()
    )
    return int(row["sum"] or 0) if row else 0


async def append(row: StockMovement) -> MovementOut:
    """Write a ledger row made by `movement` only; the caller has changed the level itself."""
    inserted = await _M.insert(row).returning(*_M.all_columns())
    return movement_out(inserted[0])


def movement(
    store_id: int,
    product_id: int,
    kind: MovementKind,
    delta: int,
    entry: Entry,
    *,
    occurred_at: datetime,
    applied: bool = True,
    batch_id: int | None = None,
    counted: int | None = None,
) -> StockMovement:
    """A ledger row, for `append` or `append_all` to write."""
    return _M(
        store=store_id,
        product=product_id,
        batch=batch_id,
        kind=kind,
        delta=delta,
        counted=counted,
        applied=applied,
        occurred_at=occurred_at,
        recorded_at=datetime.now(UTC),
        actor=entry.actor[:64],
        reason=entry.reason[:255],
        reference=entry.reference[:80],
        idempotency_key=entry.idempotency_key,
    )


async def append_all(rows: list[StockMovement]) -> None:
    """Write ledger rows made by `movement` in one statement."""
    if rows:
        await insert_new(rows)


def movement_out(row: dict[str, Any]) -> MovementOut:
    """The API's view of a movement row."""
    return MovementOut(
        id=row["id"],
        store_id=row["store"],
        product_id=row["product"],
        batch_id=row["batch"],
        kind=row["kind"],
        delta=row["delta"],
        counted=row["counted"],
        applied=row["applied"],
        occurred_at=row["occurred_at"],
        recorded_at=row["recorded_at"],
        actor=row["actor"],
        reason=row["reason"],
        reference=row["reference"],
    )
