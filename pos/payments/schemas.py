"""Payments API contract: hand-written request and response models."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pos.db import MAX_INTEGER, RowId
from pos.inputs import Input

__all__ = [
    "FlaggedPaymentOut",
    "PaymentOut",
    "RefundOut",
    "RefundRequest",
    "ResolveFlagIn",
    "StartPayment",
]


class StartPayment(Input):
    """How the shopper pays.

    `qr`: the shopper scans our QR code. `code`: we scan the shopper's payment code. `web`: the
    shopper's phone opens the provider's page (WeChat H5, Alipay WAP) and comes back to the
    order's page; only with the order's token.
    """

    model_config = ConfigDict(extra="forbid")

    method: Literal["qr", "code", "web"]
    auth_code: str | None = Field(
        default=None, description="the payer-presented code, for method `code`", max_length=32
    )

    @model_validator(mode="after")
    def _code_needs_auth_code(self) -> StartPayment:
        if (self.method == "code") != (self.auth_code is not None):
            raise ValueError("auth_code is required with method `code`, and only with it")
        return self


class PaymentOut(BaseModel):
    """A payment as the shopper's page or the kiosk sees it."""

    payment_id: int
    order_id: int
    out_trade_no: str
    method: Literal["qr", "code", "web"]
    status: str = Field(description="created, pending, closing, paid, closed, reversed or refunded")
    amount_fen: int
    qr_url: str | None = Field(default=None, description="what the QR code shows (method qr)")
    redirect_url: str | None = Field(
        default=None,
        description="a page that takes the payment: method web (also qr in the sandbox)",
    )
    wechat_jsapi: dict[str, str] | None = Field(
        default=None,
        description="inside WeChat: the arguments of WeixinJSBridge getBrandWCPayRequest",
    )
    failure: str = Field(
        default="",
        description="why the payment ended unpaid, in the provider's code and words, e.g."
        " `NOTENOUGH 用户余额不足` (WeChat), `ACQ.BUYER_BALANCE_NOT_ENOUGH 买家余额不足` (Alipay)",
    )


class RefundRequest(Input):
    """Return all or part of an order's payment, optionally putting goods back into stock."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    amount_fen: int = Field(gt=0, le=MAX_INTEGER)
    reason: str = Field(min_length=1, max_length=255)
    restock: dict[RowId, int] | None = Field(
        default=None, description="product id -> quantity returned to stock"
    )
    returned: dict[RowId, int] | None = Field(
        default=None,
        description="goods this refund pays for: product id -> pieces, or grams for kg products;"
        " default: the goods put back in stock (`restock`)",
    )
    printer_id: RowId | None = Field(
        default=None,
        description="the store's printer for the refund slip; default: the sale's printer",
    )

    @model_validator(mode="after")
    def _positive_goods(self) -> RefundRequest:
        for goods in (self.restock, self.returned):
            if goods and any(quantity <= 0 for quantity in goods.values()):
                raise ValueError("restock and returned quantities are positive")
        return self

    @property
    def paid_for(self) -> dict[int, int]:
        """The goods the refund pays for: `returned`, else those put back in stock."""
        return dict(self.restock or {}) if self.returned is None else dict(self.returned)


class RefundOut(BaseModel):
    refund_id: int
    order_id: int
    payment_id: int
    out_refund_no: str
    amount_fen: int
    status: str = Field(description="pending (the provider is processing), succeeded or failed")
    reason: str
    restock: dict[int, int]
    returned: dict[int, int] = Field(
        default_factory=dict, description="the goods the refund pays for (pieces or grams)"
    )
    requested_by: int | None = Field(description="staff user id; none for automatic refunds")
    printer_id: int | None = Field(description="where the slip prints; none: the sale's printer")
    created_at: datetime


class FlaggedPaymentOut(BaseModel):
    """A flag staff should look at, on a payment or one of its refunds, and what they did."""

    payment_id: int
    order_id: int
    order_number: str
    flag: str = Field(
        description="amount_mismatch (paid another amount: refunded, the order not paid),"
        " refund_failed (the provider refused a refund: the money is still the store's),"
        " refund_stranded (a refund left the store but did not reach the payer: send it on from the"
        " provider's merchant platform) or refund_overdue (the provider was still processing a"
        " refund days after it was asked for: pending here, look it up on the merchant platform)"
    )
    amount_fen: int
    paid_fen: int | None
    refunded_fen: int
    status: str
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: int | None = Field(description="staff user id")
    note: str
    refund_id: int | None = Field(
        default=None,
        description="the refund flagged; none: the payment is (also refund flags raised before"
        " refunds had their own)",
    )
    refund_amount_fen: int | None = Field(default=None, description="what the refund returns")
    refund_reason: str | None = Field(default=None, description="why the refund was asked for")
    out_refund_no: str | None = Field(
        default=None, description="our refund number at the provider, for its merchant platform"
    )


class ResolveFlagIn(Input):
    """What staff did about a flagged payment or refund: kept with who and when."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    note: str = Field(min_length=1, max_length=255)
