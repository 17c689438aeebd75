"""Payment tables: our payments, the notifications received, refunds, and the sandbox's state."""

from __future__ import annotations

from piccolo.columns import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from pos.orders.tables import Order
from pos.staff.tables import StaffUser
from pos.stores.tables import Printer, Store

__all__ = [
    "MAX_NONCE",
    "MAX_TRADE_NO",
    "Payment",
    "PaymentNotification",
    "Refund",
    "RefundCheck",
    "SandboxPayment",
    "SandboxRefund",
]

_KEEP = OnDelete.restrict
MAX_NONCE = 64
MAX_TRADE_NO = 32  # our payment numbers; the providers allow 32 (WeChat) and 64 (Alipay)


class Payment(Table):
    """One attempt to collect an order's total through a provider."""

    id: Serial
    order = ForeignKey(references=Order, null=False, index=True, on_delete=_KEEP)
    store = ForeignKey(references=Store, null=False, index=True, on_delete=_KEEP)
    provider = Varchar(length=16, help_text="sandbox, wechat or alipay")
    method = Varchar(
        length=8, help_text="qr (merchant-presented), code (payer-presented) or web (phone page)"
    )
    out_trade_no = Varchar(
        length=MAX_TRADE_NO, unique=True, help_text="our payment number at the provider"
    )
    idempotency_key = Varchar(length=128, help_text="the start call's Idempotency-Key")
    amount_fen = Integer()
    paid_fen = Integer(null=True, default=None, help_text="what the provider says was paid")
    refunded_fen = Integer(default=0, help_text="refunds asked for and not failed")
    paid_order = Boolean(default=False, help_text="this payment paid its order (not a surplus)")
    status = Varchar(
        length=20,
        default="created",
        index=True,
        help_text=(
            "created, pending, closing, paid, closed, reversed, partially_refunded or refunded"
        ),
    )
    failure = Varchar(
        length=255,
        default="",
        help_text="why it ended unpaid, in the provider's code and words (if it said)",
    )
    flag = Varchar(length=32, default="", help_text="why staff should look, e.g. amount_mismatch")
    flag_resolved_at = Timestamptz(null=True, default=None)
    flag_resolved_by = ForeignKey(references=StaffUser, null=True, default=None, on_delete=_KEEP)
    flag_note = Varchar(length=255, default="", help_text="what staff did about the flag")
    payer_hash = Varchar(length=64, null=True, default=None, help_text="salted payer id hash")
    provider_reference = Varchar(length=64, default="", help_text="the provider's payment id")
    answer = JSON(default="{}", help_text="the first answer to the start call, for retries")
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz(help_text="when the order stops waiting for it")
    settled_at = Timestamptz(null=True, default=None)
    # UNIQUE (order, idempotency_key): an index made by the payments_keys migration.


class PaymentNotification(Table):
    """A notification as received, kept raw whether or not it was believed."""

    id: Serial
    provider = Varchar(length=16)
    headers = JSON(default="{}")
    body = Text(default="")
    verified = Boolean(default=False)
    nonce = Varchar(
        length=MAX_NONCE,
        null=True,
        default=None,
        unique=True,
        help_text="set when verified: replays clash",
    )
    out_trade_no = Varchar(length=MAX_TRADE_NO, default="", index=True)
    received_at = Timestamptz(default=TimestamptzNow())
    outcome = Varchar(length=40, default="received", help_text="what it led to, or why refused")


class Refund(Table):
    """Money returned on a payment: asked by staff, or automatic for a surplus payment."""

    id: Serial
    payment = ForeignKey(references=Payment, null=False, index=True, on_delete=_KEEP)
    out_refund_no = Varchar(length=32, unique=True, help_text="our refund number at the provider")
    idempotency_key = Varchar(length=128, null=True, default=None)
    amount_fen = Integer()
    status = Varchar(length=12, default="pending", help_text="pending, succeeded or failed")
    reason = Varchar(length=255, default="")
    automatic = Boolean(default=False, help_text="returned by the system, not asked by staff")
    requested_by = ForeignKey(references=StaffUser, null=True, default=None, on_delete=_KEEP)
    restock = JSON(default="{}", help_text="product id -> quantity put back into stock")
    returned = JSON(default="{}", help_text="product id -> pieces or grams the refund pays for")
    slip_printer = ForeignKey(
        references=Printer,
        null=True,
        default=None,
        on_delete=_KEEP,
        help_text="where staff asked the slip to print; null: the sale's printer",
    )
    provider_reference = Varchar(length=64, default="")
    answer = JSON(default="{}", help_text="the first answer to the refund call, for retries")
    created_at = Timestamptz(default=TimestamptzNow())
    completed_at = Timestamptz(null=True, default=None)
    flag = Varchar(
        length=32,
        default="",
        help_text="why staff should look: refund_failed, refund_stranded or refund_overdue",
    )
    flag_resolved_at = Timestamptz(null=True, default=None)
    flag_resolved_by = ForeignKey(references=StaffUser, null=True, default=None, on_delete=_KEEP)
    flag_note = Varchar(length=255, default="", help_text="what staff did about the flag")
    # UNIQUE (payment, idempotency_key): an index made by the payments_keys migration.


class RefundCheck(Table):
    """Staff asking the provider again about a refund flagged for them: who, when, the answer."""

    id: Serial
    refund = ForeignKey(references=Refund, null=False, index=True, on_delete=_KEEP)
    key = Varchar(length=160, unique=True, help_text="check:<refund id>:<Idempotency-Key>")
    checked_by = ForeignKey(references=StaffUser, null=False, on_delete=_KEEP)
    checked_at = Timestamptz(default=TimestamptzNow())
    answer = JSON(default="{}", help_text="the refund as the check found it, for retries")


class SandboxPayment(Table):
    """The sandbox provider's own books: what a real gateway would hold."""

    id: Serial
    out_trade_no = Varchar(length=32, unique=True)
    amount_fen = Integer()
    description = Varchar(length=128, default="")
    status = Varchar(length=12, help_text="pending, paid, closed, reversed or failed")
    auth_code = Varchar(length=24, default="", help_text="the payer code charged, if any")
    queries = Integer(default=0, help_text="queries answered, for the magic codes")
    payer_id = Varchar(length=64, default="", help_text="the simulated wallet user")
    transaction_id = Varchar(length=64, default="")
    refunded_fen = Integer(default=0)
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz()
    paid_at = Timestamptz(null=True, default=None)


class SandboxRefund(Table):
    id: Serial
    out_refund_no = Varchar(length=32, unique=True)
    out_trade_no = Varchar(length=32, index=True)
    amount_fen = Integer()
    created_at = Timestamptz(default=TimestamptzNow())
