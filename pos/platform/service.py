"""Certified transactions: written by outbox handlers after each sale and refund; the backlog.

`on_order_paid` turns the sale frozen in the `order_paid` payload into a certified transaction
row, `on_order_refunded` a refund into a reversal of that sale's lines. Both are idempotent by
the transaction id (a UNIQUE column), so a replayed event inserts nothing. The relay
(`pos.platform.relay`) sends the rows; staff see the backlog and dead letters and retry them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from piccolo.query.functions.aggregate import Count, Min

from pos.catalog.tables import Supplier
from pos.errors import NotFound, Unavailable
from pos.events.outbox import Event, notify, register
from pos.orders import service as orders
from pos.platform.schemas import (
    BacklogOut,
    DeadLetterOut,
    RequeuedOut,
    Sale,
    TransactionDoc,
)
from pos.platform.tables import CertifiedTransaction
from pos.platform.transactions import (
    Place,
    RefundShare,
    reversal_transaction,
    sale_transaction,
)
from pos.stores import service as stores
from pos.stores.tables import Store

__all__ = [
    "MAX_LISTED",
    "backlog",
    "dead_letters",
    "install",
    "on_order_paid",
    "on_order_refunded",
    "requeue",
    "retry_dead",
]

MAX_LISTED = 200
_T = CertifiedTransaction


def install() -> None:
    """Register the platform's outbox handlers (installing them again changes nothing)."""
    register(orders.ORDER_PAID, on_order_paid)
    register(orders.ORDER_REFUNDED, on_order_refunded)


async def on_order_paid(event: Event) -> None:
    """Outbox handler: the sale's certified transaction, when a line was certified at the sale."""
    sale = Sale.model_validate(event.payload)
    certified = [line for line in sale.lines if line.certified]
    if not certified:
        return
    place = await _place(sale.store_id, sale.counter_id)
    codes = await _supplier_codes(line.supplier_id for line in certified)
    doc = sale_transaction(sale, place, codes)
    if doc is not None:
        await _insert(doc, sale.order_id, sale.store_id)


async def on_order_refunded(event: Event) -> None:
    """Outbox handler: a refund reverses its share of the sale's certified lines."""
    order_id = int(event.payload["order_id"])
    row = await _T.select(_T.body).where((_T.order_id == order_id) & (_T.kind == "sale")).first()
    if row is None:
        if any(line.certified for line in (await orders.get_order(order_id)).lines):
            # The sale's own event has not been handled yet: try again after it.
            raise Unavailable(f"order {order_id}: its certified sale is not recorded yet")
        return
    sale = TransactionDoc.model_validate_json(row["body"])
    store_id = int(event.payload["store_id"])
    after = int(event.payload["refunded_fen"])
    share = RefundShare(
        refund_key=event.key.rpartition(":")[2],
        before_fen=after - int(event.payload["amount_fen"]),
        after_fen=after,
        refunded_at=_refunded_at(event.payload),
    )
    time_zone = (await stores.store_rules(store_id)).time_zone
    doc = reversal_transaction(sale, share, order_id, time_zone)
    if doc is not None:
        await _insert(doc, order_id, store_id)


def _refunded_at(payload: dict[str, Any]) -> datetime:
    # Older `order_refunded` payloads carry no time: the handler's moment is the best left.
    stamp = payload.get("refunded_at")
    return datetime.fromisoformat(stamp) if stamp else datetime.now(UTC)


async def _place(store_id: int, counter_id: int | None) -> Place:
    store = (
        await Store.select(Store.code, Store.merchant_id, Store.time_zone)
        .where(Store.id == store_id)
        .first()
    )
    if store is None:
        raise NotFound(f"no store {store_id}", code="store_not_found")
    counter_code = (await stores.get_counter(counter_id)).code if counter_id else None
    return Place(store["merchant_id"], store["code"], store["time_zone"], counter_code)


async def _supplier_codes(supplier_ids: Iterable[int]) -> dict[int, str]:
    rows = await Supplier.select(Supplier.id, Supplier.credit_code).where(
        Supplier.id.is_in(sorted(set(supplier_ids)))
    )
    return {row["id"]: row["credit_code"] for row in rows}


async def _insert(doc: TransactionDoc, order_id: int, store_id: int) -> None:
    row = _T(
        transaction_id=doc.transaction_id,
        kind=doc.kind,
        order_id=order_id,
        store_id=store_id,
        merchant_id=doc.merchant_id,
        business_day=doc.business_day,
        amount_fen=doc.amount_fen,
        body=doc.model_dump_json(),
        state="pending",
        next_attempt_at=datetime.now(UTC),
    )
    await _T.insert(row).on_conflict(action="DO NOTHING")
    notify()


async def backlog() -> BacklogOut:
    """How many transactions wait, were sent or are dead, and since when the oldest waits."""
    rows = await _T.select(_T.state, Count(_T.id).as_alias("n")).group_by(_T.state)
    counts = {row["state"]: row["n"] for row in rows}
    oldest = await _T.select(Min(_T.created_at).as_alias("at")).where(_T.state == "pending")
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
    """Send dead transactions again (one, or all of them) with a fresh count of attempts."""
    where: Any = _T.state == "dead"
    if transaction_id is not None:
        where &= _T.transaction_id == transaction_id
    requeued = await _requeue_where(where)
    if transaction_id is not None and not requeued:
        raise NotFound(f"no dead transaction {transaction_id}", code="dead_letter_not_found")
    return RequeuedOut(requeued=requeued)


async def requeue(transaction_ids: list[str]) -> int:
    """Make the given transactions due now, whatever their state; returns how many exist."""
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
        .where(where)
        .returning(_T.id)
    )
    if rows:
        notify()
    return len(rows)
