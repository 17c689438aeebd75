"""The payment provider interface, shaped after WeChat Pay API v3 and Alipay's open API.

- create: WeChat Native prepay -> code_url (JSAPI prepay); Alipay alipay.trade.precreate qr_code
- create_web: WeChat H5 prepay -> h5_url (inside WeChat: JSAPI prepay -> prepay_id); Alipay
  alipay.trade.wap.pay, a signed gateway URL: the shopper pays on the provider's page in the
  phone's browser and is sent back to `return_url`
- charge_code: WeChat micropay (payer-presented code); Alipay alipay.trade.pay, scene bar_code
- query: WeChat GET transactions/out-trade-no/{no}; Alipay alipay.trade.query
- close: WeChat POST transactions/out-trade-no/{no}/close; Alipay alipay.trade.close
- reverse: WeChat micropay reverse (撤销); Alipay alipay.trade.cancel
- refund: WeChat refund/domestic/refunds (out_refund_no); Alipay alipay.trade.refund
  (out_request_no), both partial
- query_refund: WeChat GET refund/domestic/refunds/{out_refund_no}; Alipay
  alipay.trade.fastpay.refund.query (out_request_no)
- verify_notification: WeChat Wechatpay-Signature/-Timestamp/-Nonce/-Serial headers over
  `timestamp\nnonce\nbody\n`, AES-GCM resource; Alipay async notify with an RSA2 `sign` field

Both providers key a payment by our `out_trade_no` and a refund by our refund number, and both
treat a repeated call with the same number as the same request: that is what makes retries safe.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Literal, Self

from pos.errors import PosError, Unavailable

__all__ = [
    "CURRENCY",
    "Acknowledgement",
    "ChargeResult",
    "ChargeStatus",
    "CreatedPayment",
    "Notification",
    "NotificationRefused",
    "PaymentMethod",
    "PaymentProvider",
    "PaymentRequest",
    "PhoneBrowser",
    "QueryResult",
    "QueryStatus",
    "RefundResult",
    "RefundStatus",
    "failure_reason",
    "is_payment_code",
]

# The money every sale is in, and whose fen every amount counts: a payment in any other is not
# the sale's (`settle` refunds it as an amount mismatch).
CURRENCY = "CNY"
PaymentMethod = Literal["qr", "code", "web"]
ChargeStatus = Literal["paid", "user_paying", "failed"]
# WeChat trade_state NOTPAY/USERPAYING and Alipay WAIT_BUYER_PAY are "pending"; CLOSED, REVOKED
# and TRADE_CLOSED (or no such trade) are "closed"; PAYERROR is "failed".
QueryStatus = Literal["paid", "pending", "closed", "failed"]
RefundStatus = Literal["succeeded", "processing", "failed"]

# WeChat: 18 digits starting 10-15. Alipay: 16 to 24 digits starting 25-30.
_CHARGE_AS_QUERY: dict[ChargeStatus, QueryStatus] = {
    "paid": "paid",
    "user_paying": "pending",
    "failed": "failed",
}
_PAYMENT_CODE = re.compile(r"1[0-5][0-9]{16}|(?:2[5-9]|30)[0-9]{14,22}")


def _require_paid_facts(status: str, amount_fen: int | None, provider_reference: str) -> None:
    """Refuse a paid answer without what was paid (WeChat amount.total, Alipay total_amount) or
    the provider's number of the payment (transaction_id, trade_no).

    Settled without its amount, it would look like a wrong amount and refund nothing of the
    shopper's money; without its number, a second payment of the order would look like the
    first and never be refunded. As a provider failure, its notification is answered with an
    error the gateway repeats, and its poll is retried.
    """
    if status != "paid":
        return
    if amount_fen is None or amount_fen <= 0:
        missing = "the amount"
    elif not provider_reference:
        missing = "its number of the payment"
    else:
        return
    raise Unavailable(
        f"the provider answered paid without {missing}", code="provider_answer_malformed"
    )


def failure_reason(code: str, words: str) -> str:
    """Why the provider ended an attempt, as its code and its words: `NOTENOUGH 用户余额不足`."""
    return " ".join(part.strip() for part in (code, words) if part.strip())


def is_payment_code(code: str) -> bool:
    """Whether `code` looks like a WeChat or Alipay payer-presented payment code."""
    return _PAYMENT_CODE.fullmatch(code) is not None  # `$` would let a final newline through


class NotificationRefused(PosError):
    """A notification that is unsigned, forged, stale or replayed; nothing changes."""

    status = 400
    code = "notification_refused"


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """What we ask a provider to collect."""

    out_trade_no: str
    amount_fen: int
    description: str
    expires_at: datetime
    store_id: int


@dataclass(frozen=True, slots=True)
class PhoneBrowser:
    """The shopper's browser, for a payment made on the provider's page (`create_web`)."""

    return_url: str  # where the provider sends the browser back: the order's page
    client_ip: str  # WeChat H5 wants the payer's IP address
    wechat_openid: str = ""  # inside WeChat, signed in by its OAuth: WeChat pays by JSAPI


@dataclass(frozen=True, slots=True)
class CreatedPayment:
    """Where the shopper pays: a QR code's content, a page to send the browser to, or what the
    page hands WeChat's JS bridge (JSAPI's getBrandWCPayRequest)."""

    qr_url: str | None = None
    redirect_url: str | None = None
    wechat_jsapi: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class QueryResult:
    """The provider's truth about a payment; a paid one carries its amount, a failed one may
    carry the provider's `failure_reason`."""

    status: QueryStatus
    amount_fen: int | None = None
    payer_id: str | None = None
    provider_reference: str = ""
    paid_at: datetime | None = None
    currency: str = CURRENCY
    reason: str = ""

    def __post_init__(self) -> None:
        _require_paid_facts(self.status, self.amount_fen, self.provider_reference)


@dataclass(frozen=True, slots=True)
class ChargeResult:
    """The synchronous answer to charging a payer-presented code; a paid one carries its amount,
    a failed one the provider's `failure_reason`."""

    status: ChargeStatus
    amount_fen: int | None = None
    payer_id: str | None = None
    provider_reference: str = ""
    paid_at: datetime | None = None
    reason: str = ""
    currency: str = CURRENCY

    def __post_init__(self) -> None:
        _require_paid_facts(self.status, self.amount_fen, self.provider_reference)

    def as_query(self) -> QueryResult:
        """The same answer in the shape of a query, so one settling path serves both."""
        status = _CHARGE_AS_QUERY[self.status]
        return QueryResult(
            status,
            self.amount_fen,
            self.payer_id,
            self.provider_reference,
            self.paid_at,
            self.currency,
            self.reason,
        )


@dataclass(frozen=True, slots=True)
class RefundResult:
    """A refund's state at the provider; WeChat answers PROCESSING and finishes later.

    `stranded`: the money left the store but did not reach the payer (WeChat's ABNORMAL, a
    card closed since): staff finish it on the provider's merchant platform.
    """

    status: RefundStatus
    provider_reference: str = ""
    stranded: bool = False


@dataclass(frozen=True, slots=True)
class Notification:
    """A verified notification: only a hint about which payment to query.

    `nonce` is unique per delivery (WeChat Wechatpay-Nonce; for Alipay, its `notify_id`).
    """

    out_trade_no: str
    nonce: str


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """What a gateway expects back from a notification it delivered; anything else, it resends."""

    body: bytes
    media_type: str


class PaymentProvider(ABC):
    """One payment provider; every call may raise `pos.errors.Unavailable`.

    Used inside `async with provider:`, which opens and closes what it needs (connections).
    """

    name: ClassVar[str]
    # WeChat Pay v3's: HTTP 200 with this JSON. Alipay wants the bare word `success`.
    acknowledgement: ClassVar[Acknowledgement] = Acknowledgement(
        b'{"code":"SUCCESS","message":""}', "application/json"
    )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    @abstractmethod
    async def create(self, payment: PaymentRequest) -> CreatedPayment:
        """Open a merchant-presented payment (a QR code or a wallet page)."""

    @abstractmethod
    async def create_web(self, payment: PaymentRequest, browser: PhoneBrowser) -> CreatedPayment:
        """Open a payment made on the provider's page in the phone's browser: its redirect_url."""

    @abstractmethod
    async def charge_code(self, payment: PaymentRequest, auth_code: str) -> ChargeResult:
        """Charge a payer-presented payment code."""

    @abstractmethod
    async def query(self, out_trade_no: str) -> QueryResult:
        """The payment's current state at the provider."""

    @abstractmethod
    async def close(self, out_trade_no: str) -> None:
        """Stop an unpaid payment from being paid."""

    @abstractmethod
    async def reverse(self, out_trade_no: str) -> None:
        """Cancel a payer-presented charge, refunding it if it went through meanwhile."""

    @abstractmethod
    async def refund(
        self, out_trade_no: str, out_refund_no: str, amount_fen: int, total_fen: int
    ) -> RefundResult:
        """Return all or part of a paid payment; repeating `out_refund_no` repeats nothing."""

    @abstractmethod
    async def query_refund(self, out_refund_no: str, out_trade_no: str) -> RefundResult | None:
        """A refund's current state at the provider; None when it has no such refund (then
        asking for it again with the same number is safe, and is what both providers advise)."""

    @abstractmethod
    def verify_notification(
        self, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> Notification:
        """Check a notification's signature and age; `NotificationRefused` if it fails."""
