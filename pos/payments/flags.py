"""Payments and refunds flagged for staff: raising a flag, listing the flagged, resolving one.

A flag says money went somewhere the sale did not expect. On a payment: the provider reported
another amount (`amount_mismatch`: refunded, the order left unpaid). On a refund, so that each
is listed and resolved on its own with its amount: the provider refused it (`refund_failed`:
the money is still the store's), could not deliver it (`refund_stranded`: the money left the
store, to be sent on from the provider's merchant platform), or was still processing it when we
stopped asking (`refund_overdue`: pending here, to look up on the merchant platform, or to ask
the provider again from here; resolved by itself once the provider has finished it). Flags
raised before refunds had their own stay on the payment.
Staff resolve a flag with a note of what they did; who and when are kept with it. A payment or
refund flagged again is open again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from piccolo.columns import Column

from pos.errors import NotFound
from pos.payments.schemas import FlaggedPaymentOut
from pos.payments.tables import Payment, Refund
from pos.staff.actors import StaffActor

__all__ = ["MAX_LISTED", "end_overdue", "flagged", "flagged_refund", "raised", "resolve"]

MAX_LISTED = 200

_PAYMENT_COLUMNS = (
    Payment.id.as_alias("payment_id"),
    Payment.order.as_alias("order_id"),
    Payment.order._.number.as_alias("order_number"),
    Payment.flag,
    Payment.amount_fen,
    Payment.paid_fen,
    Payment.refunded_fen,
    Payment.status,
    Payment.created_at,
    Payment.flag_resolved_at.as_alias("resolved_at"),
    Payment.flag_resolved_by.as_alias("resolved_by"),
    Payment.flag_note.as_alias("note"),
)
_REFUND_COLUMNS = (
    Refund.payment.as_alias("payment_id"),
    Refund.payment._.order.as_alias("order_id"),
    Refund.payment._.order._.number.as_alias("order_number"),
    Refund.flag,
    Refund.payment._.amount_fen.as_alias("amount_fen"),
    Refund.payment._.paid_fen.as_alias("paid_fen"),
    Refund.payment._.refunded_fen.as_alias("refunded_fen"),
    Refund.payment._.status.as_alias("status"),
    Refund.payment._.created_at.as_alias("created_at"),
    Refund.flag_resolved_at.as_alias("resolved_at"),
    Refund.flag_resolved_by.as_alias("resolved_by"),
    Refund.flag_note.as_alias("note"),
    Refund.id.as_alias("refund_id"),
    Refund.amount_fen.as_alias("refund_amount_fen"),
    Refund.reason.as_alias("refund_reason"),
    Refund.out_refund_no,
)


def raised(table: type[Payment] | type[Refund], flag: str) -> dict[Column | str, Any]:
    """The values of a payment or refund row that flag it for staff, open again if resolved."""
    return {
        table.flag: flag,
        table.flag_resolved_at: None,
        table.flag_resolved_by: None,
        table.flag_note: "",
    }


def _open(table: type[Payment] | type[Refund], resolved: bool) -> Any:
    done = table.flag_resolved_at.is_not_null() if resolved else table.flag_resolved_at.is_null()
    return (table.flag != "") & done


async def flagged(store_id: int, *, resolved: bool = False) -> list[FlaggedPaymentOut]:
    """The store's flags still to resolve (or those resolved), each on its own: newest payment
    first, its own flag before its refunds', newest refund first."""
    payments = await (
        Payment.select(*_PAYMENT_COLUMNS)
        .where((Payment.store == store_id) & _open(Payment, resolved))
        .order_by(Payment.id, ascending=False)
        .limit(MAX_LISTED)
    )
    refunds = await (
        Refund.select(*_REFUND_COLUMNS)
        .where((Refund.payment._.store == store_id) & _open(Refund, resolved))
        .order_by(Refund.payment, Refund.id, ascending=False)
        .limit(MAX_LISTED)
    )
    listed = sorted(
        (FlaggedPaymentOut(**row) for row in [*payments, *refunds]),
        key=lambda flag: (-flag.payment_id, flag.refund_id is not None, -(flag.refund_id or 0)),
    )
    return listed[:MAX_LISTED]


async def resolve(
    store_id: int, payment_id: int, note: str, *, actor: StaffActor, refund_id: int | None = None
) -> FlaggedPaymentOut:
    """Mark the payment's flag, or its refund's (`refund_id`), resolved with `note`; resolving
    it again changes nothing."""
    table: type[Payment] | type[Refund]
    columns: tuple[Column, ...]
    if refund_id is None:
        table, columns = Payment, _PAYMENT_COLUMNS
        which = (Payment.id == payment_id) & (Payment.store == store_id)
    else:
        table, columns = Refund, _REFUND_COLUMNS
        which = _refund_of_store(store_id, payment_id, refund_id)
    flagged_here = which & (table.flag != "")
    await table.update(
        {
            table.flag_resolved_at: datetime.now(UTC),
            table.flag_resolved_by: actor.user_id,
            table.flag_note: note,
        }
    ).where(flagged_here & table.flag_resolved_at.is_null())
    row = await table.select(*columns).where(flagged_here).first()
    if row is None:
        raise _not_flagged(store_id, payment_id, refund_id)
    return FlaggedPaymentOut(**row)


def _refund_of_store(store_id: int, payment_id: int, refund_id: int) -> Any:
    of_store = Payment.select(Payment.id).where(Payment.store == store_id)
    return (
        (Refund.id == refund_id) & (Refund.payment == payment_id) & Refund.payment.is_in(of_store)
    )


async def flagged_refund(store_id: int, payment_id: int, refund_id: int) -> Refund:
    """The store's refund of the payment if it is flagged, resolved or not; else NotFound."""
    refund = await Refund.objects().get(
        _refund_of_store(store_id, payment_id, refund_id) & (Refund.flag != "")
    )
    if refund is None:
        raise _not_flagged(store_id, payment_id, refund_id)
    return refund


async def end_overdue(refund_id: int, now: datetime) -> None:
    """Resolve the refund's open `refund_overdue` flag, in the caller's transaction: the
    provider has finished the refund (staff asked it again)."""
    await Refund.update(
        {Refund.flag_resolved_at: now, Refund.flag_note: "the provider finished the refund"}
    ).where(
        (Refund.id == refund_id)
        & (Refund.flag == "refund_overdue")
        & Refund.flag_resolved_at.is_null()
    )


def _not_flagged(store_id: int, payment_id: int, refund_id: int | None) -> NotFound:
    if refund_id is None:
        return NotFound(
            f"store {store_id} has no flagged payment {payment_id}", code="payment_not_flagged"
        )
    return NotFound(
        f"store {store_id} has no flagged refund {refund_id} of payment {payment_id}",
        code="refund_not_flagged",
    )
