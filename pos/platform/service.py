"""Forwarded documents: written by outbox handlers after each sale, refund and rating; the backlog.

`on_order_paid` turns the sale frozen in the `order_paid` payload into a certified transaction
row, `on_order_refunded` a refund into a reversal of that sale's lines, `on_rating_event` a
rating of a certified line (or its moderation) into a rating document that refers to the sale.
All are idempotent by the document's id (a UNIQUE column), so a replayed event inserts nothing.
The relay (`pos.platform.relay`) sends the rows; staff see the backlog and dead letters and
retry them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from piccolo.query.functions.aggregate import Count, Min

from pos.analytics import ratings
from pos.analytics import service as analytics
from pos.catalog import service as catalog
from pos.db import insert_new
from pos.errors import Conflict, InvalidInput, NotFound, PosError, Unavailable
from pos.events.outbox import Event, register
from pos.orders import service as orders
from pos.platform.ratings import rating_document
from pos.platform.relay import DOCUMENTS_DUE
from pos.platform.schemas import (
    SENT_KINDS,
    BacklogOut,
    DeadLetterOut,
    Document,
    RatingEvent,
    RequeuedOut,
    Sale,
    TransactionDoc,
)
from pos.platform.tables import CertifiedTransaction
from pos.platform.transactions import (
    LineRefund,
    Place,
    RefundShare,
    reversal_transaction,
    sale_transaction,
)
from pos.stores import service as stores

__all__ = [
    "MAX_LISTED",
    "backlog",
    "dead_letters",
    "install",
    "on_order_paid",
    "on_order_refunded",
    "on_rating_event",
    "requeue",
    "retry_dead",
    "reversal_of",
]

MAX_LISTED = 200
_T = CertifiedTransaction


def install() -> None:
    """Register the platform's outbox handlers (installing them again changes nothing)."""
    register(orders.ORDER_PAID, on_order_paid)
    register(orders.ORDER_REFUNDED, on_order_refunded)
    register(ratings.RATING_SUBMITTED, on_rating_event)
    register(ratings.RATING_MODERATED, on_rating_event)


async def on_order_paid(event: Event) -> None:
    """Outbox handler: the sale's certified transaction, when a line was certified at the sale.

    The store's buyer region is the one set when the handler runs (reversals copy the sale's).
    """
    sale = Sale.model_validate(event.payload)
    certified = [line for line in sale.lines if line.certified]
    if not certified:
        return
    region = await analytics.store_region(sale.store_id)
    sale = sale.model_copy(update={"buyer_region": region})
    place = await _place(sale.store_id, sale.counter_id)
    codes = await _credit_codes([line.supplier_id for line in certified])
    doc = sale_transaction(sale, place, codes)
    if doc is not None:
        await _insert(doc, sale.order_id, sale.store_id)


async def on_order_refunded(event: Event) -> None:
    """Outbox handler: a refund reverses its share of the sale's certified lines."""
    doc = await reversal_of(event)
    if doc is not None:
        await _insert(doc, int(event.payload["order_id"]), int(event.payload["store_id"]))


async def reversal_of(event: Event) -> TransactionDoc | None:
    """The reversal an `order_refunded` event records: each certified line's share of the refund;
    None when it reverses nothing certified.

    Raises Unavailable while the order has a certified line but its sale is not recorded.
    """
    order_id = int(event.payload["order_id"])
    sale = await _recorded_sale(order_id)
    if sale is None:
        if any(line.certified for line in (await orders.get_order(order_id)).lines):
            raise _sale_not_recorded(order_id)
        return None
    after = int(event.payload["refunded_fen"])
    refunded_at = _refunded_at(event.payload)
    share = RefundShare(
        refund_key=event.key.rpartition(":")[2],
        before_fen=after - int(event.payload["amount_fen"]),
        after_fen=after,
        refunded_at=refunded_at,
        business_day=await _refund_day(event.payload, refunded_at),
        lines=_line_refunds(event.payload),
    )
    return reversal_transaction(sale, share, order_id)


def _line_refunds(payload: dict[str, Any]) -> tuple[LineRefund, ...] | None:
    # None: an event written before refunds were recorded per line, reversed in proportion.
    if "lines" not in payload:
        return None
    return tuple(
        LineRefund(int(line["line_no"]), int(line["fen"]), int(line["units"]))
        for line in payload["lines"]
    )


async def on_rating_event(event: Event) -> None:
    """Outbox handler for `rating_submitted` and `rating_moderated` of a certified line."""
    rating = RatingEvent.model_validate(event.payload)
    if not rating.certified:
        return
    sale = await _recorded_sale(rating.order_id)
    if sale is None:
        raise _sale_not_recorded(rating.order_id)
    day = rating.business_day or await _day_in_zone_now(rating.store_id, rating.occurred_at)
    await _insert(rating_document(rating, sale, day), rating.order_id, rating.store_id)


async def _recorded_sale(order_id: int) -> TransactionDoc | None:
    row = await _T.select(_T.body).where((_T.order_id == order_id) & (_T.kind == "sale")).first()
    return None if row is None else TransactionDoc.model_validate_json(row["body"])


def _sale_not_recorded(order_id: int) -> Unavailable:
    # The sale's own event has not been handled yet: the outbox tries again after it.
    return Unavailable(f"order {order_id}: its certified sale is not recorded yet")


def _refunded_at(payload: dict[str, Any]) -> datetime:
    # Older `order_refunded` payloads carry no time: the handler's moment is the best left.
    stamp = payload.get("refunded_at")
    return datetime.fromisoformat(stamp) if stamp else datetime.now(UTC)


async def _refund_day(payload: dict[str, Any], refunded_at: datetime) -> date:
    day = payload.get("business_day")
    if day:
        return date.fromisoformat(day)
    return await _day_in_zone_now(int(payload["store_id"]), refunded_at)


async def _day_in_zone_now(store_id: int, moment: datetime) -> date:
    # Refund and rating events carry the store-local day frozen when they were written, so a
    # later change of the store's zone moves none; only those already in the outbox when days
    # began to be frozen lack it, and get the day in the store's zone as it is now, as always.
    time_zone = (await stores.store_rules(store_id)).time_zone
    return moment.astimezone(ZoneInfo(time_zone)).date()


async def _place(store_id: int, counter_id: int | None) -> Place:
    store, counter_code = await stores.merchant_counter(store_id, counter_id or None)
    if not store.merchant_id:
        raise InvalidInput(
            f"store {store_id} has no merchant id",
            code="store_without_merchant_id",
        )
    return Place(store.merchant_id, store.code, store.time_zone, counter_code)


async def _credit_codes(supplier_ids: list[int]) -> dict[int, str]:
    codes = await catalog.supplier_credit_codes(supplier_ids)
    for supplier_id in sorted(set(supplier_ids)):
        if not codes.get(supplier_id):
            raise InvalidInput(
                f"supplier {supplier_id} has no credit code",
                code="supplier_without_credit_code",
            )
    return codes


async def _insert(doc: Document, order_id: int, store_id: int) -> None:
    row = _T(
        transaction_id=doc.transaction_id,
        kind=doc.kind,
        order_id=order_id,
        store_id=store_id,
        merchant_id=doc.merchant_id,
        business_day=doc.business_day,
        amount_fen=doc.amount_fen if isinstance(doc, TransactionDoc) else 0,
        body=doc.model_dump_json(),
        state="pending",
        next_attempt_at=datetime.now(UTC),
    )
    # A replayed event inserts nothing, also a sale whose store has since changed merchant.
    await insert_new([row], "ON CONFLICT DO NOTHING")
    DOCUMENTS_DUE.notify()


async def backlog() -> BacklogOut:
    """How many transactions wait, were sent or are dead, and since when the oldest waits.

    A second sale set aside (`sale_replayed`) is in none: it is never sent, nor to be retried.
    """
    sendable = _T.kind.is_in(list(SENT_KINDS))
    rows = await _T.select(_T.state, Count(_T.id).as_alias("n")).where(sendable).group_by(_T.state)
    counts = {row["state"]: row["n"] for row in rows}
    oldest = await _T.select(Min(_T.created_at).as_alias("at")).where(
        sendable & (_T.state == "pending")
    )
    return BacklogOut(
        pending=counts.get("pending", 0),
        oldest_pending_at=oldest[0]["at"] if oldest else None,
        sent=counts.get("sent", 0),
        dead=counts.get("dead", 0),
    )


async def dead_letters() -> list[DeadLetterOut]:
    """The transactions the relay gave up on, most recent first."""
    rows = (
        await _T.select(*[_T._meta.get_column_by_name(name) for name in DeadLetterOut.model_fields])
        .where(_T.state == "dead")
        .order_by(_T.dead_at, ascending=False)
        .limit(MAX_LISTED)
    )
    return [DeadLetterOut(**row) for row in rows]


async def retry_dead(transaction_id: str | None = None) -> RequeuedOut:
    """Send dead transactions again (one, or all of them) with a fresh count of attempts.

    A row of a kind the relay never sends (a set-aside second sale) stays dead: asked for by id,
    it is a Conflict.
    """
    where: Any = _T.state == "dead"
    if transaction_id is not None:
        where &= _T.transaction_id == transaction_id
    requeued = await _requeue_where(where)
    if transaction_id is not None and not requeued:
        raise await _not_retried(transaction_id)
    return RequeuedOut(requeued=requeued)


async def _not_retried(transaction_id: str) -> PosError:
    dead = (_T.transaction_id == transaction_id) & (_T.state == "dead")
    if await _T.exists().where(dead):
        return Conflict(
            f"{transaction_id} is a second sale of its order, set aside: it is never sent",
            code="dead_letter_not_sendable",
        )
    return NotFound(f"no dead transaction {transaction_id}", code="dead_letter_not_found")


async def requeue(transaction_ids: list[str]) -> int:
    """Make the given transactions due now, whatever their state, if the relay sends their kind.

    Returns how many were made due.
    """
    if not transaction_ids:
        return 0
    return await _requeue_where(_T.transaction_id.is_in(transaction_ids))


async def _requeue_where(where: Any) -> int:
    rows = await (
        _T.update(
            {
                _T.state: "pending",
                _T.attempts: 0,
                _T.next_attempt_at: datetime.now(UTC),
                _T.dead_at: None,
            }
        )
        .where(where & _T.kind.is_in(list(SENT_KINDS)))
        .returning(_T.id)
    )
    if rows:
        DOCUMENTS_DUE.notify()
    return len(rows)
