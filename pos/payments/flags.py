"""Payments flagged for staff: raising a flag, listing the flagged, and resolving one.

A flag says money went somewhere the sale did not expect: the provider reported another amount
(`amount_mismatch`: refunded, the order left unpaid), refused a refund (`refund_failed`: the
money is still the store's), could not deliver one (`refund_stranded`: the money left the
store, to be sent on from the provider's merchant platform), or was still processing one when
we stopped asking (`refund_overdue`: pending here, to look up on the merchant platform).
Staff resolve a flag with a note of what they did; who and when are kept with it. A payment
flagged again is open again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from piccolo.columns import Column

from pos.errors import NotFound
from pos.payments.schemas import FlaggedPaymentOut
from pos.payments.tables import Payment
from pos.staff.actors import StaffActor

__all__ = ["MAX_LISTED", "flagged", "raised", "resolve"]

MAX_LISTED = 200

_COLUMNS = (
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


def raised(flag: str) -> dict[Column | str, Any]:
    """The payment's values that flag it for staff, open again if it was resolved."""
    return {
        Payment.flag: flag,
        Payment.flag_resolved_at: None,
        Payment.flag_resolved_by: None,
        Payment.flag_note: "",
    }


async def flagged(store_id: int, *, resolved: bool = False) -> list[FlaggedPaymentOut]:
    """The store's flagged payments still to resolve (or those resolved), newest first."""
    rows = (
        await Payment.select(*_COLUMNS)
        .where(
            (Payment.store == store_id)
            & (Payment.flag != "")
            & (
                Payment.flag_resolved_at.is_not_null()
                if resolved
                else Payment.flag_resolved_at.is_null()
            )
        )
        .order_by(Payment.id, ascending=False)
        .limit(MAX_LISTED)
    )
    return [FlaggedPaymentOut(**row) for row in rows]


async def resolve(
    store_id: int, payment_id: int, note: str, *, actor: StaffActor
) -> FlaggedPaymentOut:
    """Mark the flag resolved with `note`; resolving it again changes nothing."""
    of_store = (Payment.id == payment_id) & (Payment.store == store_id) & (Payment.flag != "")
    await Payment.update(
        {
            Payment.flag_resolved_at: datetime.now(UTC),
            Payment.flag_resolved_by: actor.user_id,
            Payment.flag_note: note,
        }
    ).where(of_store & Payment.flag_resolved_at.is_null())
    row = await Payment.select(*_COLUMNS).where(of_store).first()
    if row is None:
        raise NotFound(
            f"store {store_id} has no flagged payment {payment_id}", code="payment_not_flagged"
        )
    return FlaggedPaymentOut(**row)
