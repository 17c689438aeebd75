"""The sandbox provider: a pretend gateway that keeps its books in our database.

Its state lives in `SandboxPayment` rows, so it survives restarts and any server process sees
it. A merchant-presented payment is paid on the wallet page (`pos.payments.wallet`). A
payer-presented 18-digit code is answered by its last four digits:

| code ends in | the sandbox answers                                             |
|--------------|-----------------------------------------------------------------|
| 0001         | user paying (PIN on the phone), then paid from the 2nd query on  |
| 0002         | user paying, forever: the charge ends reversed                  |
| 0003         | failed: insufficient funds                                      |
| 0004         | user paying, then failed at the 1st query: a wrong PIN          |
| anything else| paid at once                                                    |

e.g. `134567890123450001`. Any other code is refused, like a real gateway refuses a bad one.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from pos.db import Statement, write_transaction
from pos.payments.clock import Clock, utc_now
from pos.payments.provider import (
    ChargeResult,
    CreatedPayment,
    Notification,
    NotificationRefused,
    PaymentProvider,
    PaymentRequest,
    PhoneBrowser,
    QueryResult,
    QueryStatus,
    RefundResult,
)
from pos.payments.signing import check_signed
from pos.payments.tables import SandboxPayment

__all__ = [
    "CODE_INSUFFICIENT_FUNDS",
    "CODE_USER_PAYING_FOREVER",
    "CODE_USER_PAYING_THEN_FAILED",
    "CODE_USER_PAYING_THEN_PAID",
    "PAID_AFTER_QUERIES",
    "SandboxProvider",
    "find_payment",
]

CODE_USER_PAYING_THEN_PAID = "0001"
CODE_USER_PAYING_FOREVER = "0002"
CODE_INSUFFICIENT_FUNDS = "0003"
CODE_USER_PAYING_THEN_FAILED = "0004"
_USER_PAYING = {CODE_USER_PAYING_THEN_PAID, CODE_USER_PAYING_FOREVER, CODE_USER_PAYING_THEN_FAILED}
# Why a charge failed, by its code's ending, as a real wallet says 余额不足 or 密码错误.
_FAILURES = {
    CODE_INSUFFICIENT_FUNDS: "insufficient_funds",
    CODE_USER_PAYING_THEN_FAILED: "wrong_pin",
}
PAID_AFTER_QUERIES = 2

# The sandbox's own statuses, as its query reports them.
_AS_QUERY: dict[str, QueryStatus] = {
    "pending": "pending",
    "paid": "paid",
    "closed": "closed",
    "reversed": "closed",
    "failed": "failed",
}


_BY_OUT_TRADE_NO = Statement("SELECT * FROM sandbox_payment WHERE out_trade_no = {}")
# The same out_trade_no is the same payment, as at WeChat and Alipay.
_OPEN = Statement(
    "INSERT INTO sandbox_payment (out_trade_no, amount_fen, description, status, auth_code,"
    " payer_id, transaction_id, created_at, expires_at, paid_at)"
    " VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}) ON CONFLICT (out_trade_no) DO NOTHING"
)
_NEW_REFUND = Statement(
    "INSERT INTO sandbox_refund (out_refund_no, out_trade_no, amount_fen, created_at)"
    " VALUES ({}, {}, {}, {}) ON CONFLICT (out_refund_no) DO NOTHING RETURNING id"
)
_DEDUCT = Statement(
    "UPDATE sandbox_payment SET refunded_fen = refunded_fen + {} WHERE out_trade_no = {}"
    " AND status = 'paid' AND amount_fen = {} AND refunded_fen + {} <= amount_fen RETURNING id"
)
_FORGET_REFUND = Statement("DELETE FROM sandbox_refund WHERE out_refund_no = {}")
_REFUND_TAKEN = Statement(
    "SELECT id FROM sandbox_refund WHERE out_refund_no = {} AND out_trade_no = {}"
)
_PAY = Statement(
    "UPDATE sandbox_payment SET status = 'paid', payer_id = {}, transaction_id = {}, paid_at = {}"
    " WHERE out_trade_no = {} AND status = 'pending' AND expires_at > {} RETURNING *"
)


async def find_payment(out_trade_no: str) -> SandboxPayment | None:
    """The sandbox's payment with this out_trade_no, or None."""
    row = await _BY_OUT_TRADE_NO.first(out_trade_no)
    return None if row is None else SandboxPayment(**row, _exists_in_db=True)


def _wallet_path(out_trade_no: str) -> str:
    """The path of the simulated wallet page for a payment."""
    return f"/sandbox/pay/{out_trade_no}"


def _transaction_id() -> str:
    return f"sbx{uuid.uuid4().hex[:24]}"


def _result(row: SandboxPayment) -> QueryResult:
    paid = row.status == "paid"
    return QueryResult(
        status=_AS_QUERY[row.status],
        amount_fen=row.amount_fen,
        payer_id=row.payer_id or None if paid else None,
        provider_reference=row.transaction_id,
        paid_at=row.paid_at if paid else None,
        reason=_failure(row.auth_code) if row.status == "failed" else "",
    )


def _failure(auth_code: str) -> str:
    return _FAILURES.get(auth_code[-4:], "")


class SandboxProvider(PaymentProvider):
    """The demo and test provider; signs notifications with HMAC-SHA256."""

    name = "sandbox"

    def __init__(self, *, signing_key: bytes, public_url: str, clock: Clock = utc_now) -> None:
        self.signing_key = signing_key
        self.public_url = public_url.rstrip("/")
        self.clock = clock

    async def _open(
        self,
        payment: PaymentRequest,
        *,
        status: str,
        auth_code: str = "",
        payer_id: str = "",
        transaction_id: str = "",
        paid_at: datetime | None = None,
    ) -> None:
        await _OPEN.rows(
            payment.out_trade_no,
            payment.amount_fen,
            payment.description[:128],
            status,
            auth_code,
            payer_id,
            transaction_id,
            datetime.now(UTC),
            payment.expires_at,
            paid_at,
        )

    async def create(self, payment: PaymentRequest) -> CreatedPayment:
        """A pending payment, paid on the wallet page the QR code points to."""
        await self._open(payment, status="pending")
        url = self.public_url + _wallet_path(payment.out_trade_no)
        return CreatedPayment(qr_url=url, redirect_url=url)

    async def create_web(self, payment: PaymentRequest, browser: PhoneBrowser) -> CreatedPayment:
        """The same wallet page: the sandbox has one page for phones and QR codes."""
        return await self.create(payment)

    async def charge_code(self, payment: PaymentRequest, auth_code: str) -> ChargeResult:
        """Answer by the code's last four digits (see the module's table)."""
        ending = auth_code[-4:]
        if ending == CODE_INSUFFICIENT_FUNDS:
            await self._open(payment, status="failed", auth_code=auth_code)
            return ChargeResult("failed", reason=_failure(auth_code))
        if ending in _USER_PAYING:
            await self._open(payment, status="pending", auth_code=auth_code)
            return ChargeResult("user_paying")
        payer_id = f"sbx-payer-{auth_code[2:10]}"
        now = self.clock()
        await self._open(
            payment,
            status="paid",
            auth_code=auth_code,
            payer_id=payer_id,
            transaction_id=_transaction_id(),
            paid_at=now,
        )
        row = await self._row(payment.out_trade_no)
        return ChargeResult("paid", row.amount_fen, row.payer_id, row.transaction_id, row.paid_at)

    async def _row(self, out_trade_no: str) -> SandboxPayment:
        row = await find_payment(out_trade_no)
        if row is None:
            raise LookupError(out_trade_no)
        return row

    async def query(self, out_trade_no: str) -> QueryResult:
        """The payment's state; a code ending 0001 gets paid by its second query, one ending
        0004 fails at its first."""
        row = await find_payment(out_trade_no)
        if row is None:
            return QueryResult("closed")  # WeChat ORDER_NOT_EXIST, Alipay TRADE_NOT_EXIST
        if row.status == "pending" and row.auth_code.endswith(CODE_USER_PAYING_THEN_FAILED):
            await SandboxPayment.update({SandboxPayment.status: "failed"}).where(
                (SandboxPayment.id == row.id) & (SandboxPayment.status == "pending")
            )
            row = await self._row(out_trade_no)
        if row.status == "pending" and row.auth_code.endswith(CODE_USER_PAYING_THEN_PAID):
            await SandboxPayment.update({SandboxPayment.queries: SandboxPayment.queries + 1}).where(
                SandboxPayment.id == row.id
            )
            if row.queries + 1 >= PAID_AFTER_QUERIES:
                await self.pay(out_trade_no, f"sbx-payer-{row.auth_code[2:10]}")
            row = await self._row(out_trade_no)
        return _result(row)

    async def pay(self, out_trade_no: str, payer_id: str) -> SandboxPayment | None:
        """The simulated payer pays: the payment paid; None when it is not waiting for money."""
        now = self.clock()
        row = await _PAY.first(payer_id, _transaction_id(), now, out_trade_no, now)
        return None if row is None else SandboxPayment(**row, _exists_in_db=True)

    async def close(self, out_trade_no: str) -> None:
        """A pending payment can no longer be paid; a paid one stays paid (WeChat ORDERPAID)."""
        await SandboxPayment.update({SandboxPayment.status: "closed"}).where(
            (SandboxPayment.out_trade_no == out_trade_no) & (SandboxPayment.status == "pending")
        )

    async def reverse(self, out_trade_no: str) -> None:
        """Cancel a charge, paid, failed or neither, as WeChat's reverse and Alipay's cancel do."""
        await SandboxPayment.update({SandboxPayment.status: "reversed"}).where(
            (SandboxPayment.out_trade_no == out_trade_no)
            & SandboxPayment.status.is_in(["pending", "paid", "failed"])
        )

    async def refund(
        self, out_trade_no: str, out_refund_no: str, amount_fen: int, total_fen: int
    ) -> RefundResult:
        """Refund from a paid payment, at most what is left of it; once per refund number."""
        async with write_transaction():
            # Concurrent calls with one number wait here for the first to end.
            if not await _NEW_REFUND.rows(out_refund_no, out_trade_no, amount_fen, self.clock()):
                return RefundResult("succeeded", out_refund_no)
            if await _DEDUCT.rows(amount_fen, out_trade_no, total_fen, amount_fen):
                return RefundResult("succeeded", out_refund_no)
            await _FORGET_REFUND.rows(out_refund_no)
        return RefundResult("failed")

    async def query_refund(self, out_refund_no: str, out_trade_no: str) -> RefundResult | None:
        """Succeeded if the sandbox took it: it refunds at once, and forgets one it refused."""
        if await _REFUND_TAKEN.first(out_refund_no, out_trade_no) is None:
            return None
        return RefundResult("succeeded", out_refund_no)

    def verify_notification(
        self, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> Notification:
        """Check the HMAC signature and the age; the body names the payment."""
        nonce = check_signed(self.signing_key, headers, body, now)
        try:
            out_trade_no = str(json.loads(body)["out_trade_no"])
        except (ValueError, KeyError, TypeError):
            raise NotificationRefused(
                "a signed body without out_trade_no", code="notification_malformed"
            ) from None
        return Notification(out_trade_no=out_trade_no, nonce=nonce)
