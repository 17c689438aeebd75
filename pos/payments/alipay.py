"""Alipay's open API through python-alipay-sdk: QR codes, phone web pages, payment codes, refunds.

Requests are signed RSA2 with the app's private key; answers and notifications are checked with
the Alipay public key. The SDK is synchronous, so each call runs in a worker thread. Amounts go
to Alipay in yuan ("25.00") and times come back in Beijing time.

As with WeChat, an answer we cannot read as a decision (a timeout, code 20000, a signature that
does not verify) is `Unavailable`, and the caller's poll or outbox retry asks again: Alipay
treats a repeated out_trade_no or out_request_no as the same request.
"""

from __future__ import annotations

import functools
import http.client
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import anyio.to_thread
from alipay import AliPay
from alipay.exceptions import AliPayException, AliPayValidationError
from alipay.utils import AliPayConfig

from pos.errors import Unavailable
from pos.money import format_yuan, parse_yuan
from pos.payments.provider import (
    CURRENCY,
    Acknowledgement,
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
    failure_reason,
)
from pos.payments.signing import check_fresh

__all__ = ["GATEWAY", "AlipayConfig", "AlipayProvider"]

GATEWAY = "https://openapi.alipay.com/gateway.do"
BEIJING = ZoneInfo("Asia/Shanghai")
_TRADE_STATUSES: dict[str, QueryStatus] = {
    "TRADE_SUCCESS": "paid",
    "TRADE_FINISHED": "paid",
    "WAIT_BUYER_PAY": "pending",
    # Also a trade refunded in full: then the payment is settled already and this changes nothing.
    "TRADE_CLOSED": "closed",
}
_SUCCESS, _WAITING_FOR_BUYER, _UNKNOWN, _BUSINESS_FAILED = "10000", "10003", "20000", "40004"
# A face-to-face QR trade exists at Alipay only once it is scanned, so "no such trade" means
# "not paid yet". Giving up ends a payment whatever the query after the close says
# (`settle._give_up`); money that arrives after that pays the order if it is still open, or is
# refunded (`settle._mark_paid`).
_NO_TRADE = "ACQ.TRADE_NOT_EXIST"
# A 40004 that decides nothing: Alipay says to query the trade, or to call again the same way.
_SYSTEM_ERROR = "ACQ.SYSTEM_ERROR"
_REFUNDED = "REFUND_SUCCESS"  # alipay.trade.fastpay.refund.query's refund_status
_TIMEOUT_S = 15
_ALIPAY_TIME = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True, slots=True)
class AlipayConfig:
    """An Alipay app with face-to-face payment (当面付), as the open platform gives it."""

    appid: str
    app_private_key: str
    alipay_public_key: str
    notify_url: str
    gateway: str = GATEWAY
    # The merchant's PID (2088...), when the app serves other merchants too (an ISV's, a
    # group's): Alipay signs the notifications of their trades as it signs ours.
    seller_id: str = ""


class _AliPayInBeijingTime(AliPay):  # type: ignore[misc]  # the SDK has no types
    """The SDK stamps requests with the machine's local time; Alipay reads Beijing time."""

    def build_body(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        body: dict[str, Any] = super().build_body(*args, **kwargs)
        body["timestamp"] = datetime.now(BEIJING).strftime(_ALIPAY_TIME)
        return body


class AlipayProvider(PaymentProvider):
    """Alipay face-to-face payments for one app id."""

    name = "alipay"
    acknowledgement = Acknowledgement(b"success", "text/plain")

    def __init__(self, config: AlipayConfig) -> None:
        self._appid, self._seller_id = config.appid, config.seller_id
        self._alipay = _AliPayInBeijingTime(
            appid=config.appid,
            app_notify_url=config.notify_url,
            app_private_key_string=config.app_private_key,
            alipay_public_key_string=config.alipay_public_key,
            sign_type="RSA2",
            config=AliPayConfig(timeout=_TIMEOUT_S),
        )
        # The SDK knows only Alipay's production and sandbox gateways: a test double is set here.
        self._alipay._gateway = config.gateway

    async def create(self, payment: PaymentRequest) -> CreatedPayment:
        answer = await self._call(
            self._alipay.api_alipay_trade_precreate,
            **_trade(payment),
            timeout_express=_minutes_left(payment),
        )
        return CreatedPayment(qr_url=str(_ok(answer)["qr_code"]))

    async def create_web(self, payment: PaymentRequest, browser: PhoneBrowser) -> CreatedPayment:
        # Nothing is sent: the trade opens when the shopper's browser follows the signed URL.
        signed = await anyio.to_thread.run_sync(
            functools.partial(
                self._alipay.api_alipay_trade_wap_pay,
                return_url=browser.return_url,
                quit_url=browser.return_url,
                timeout_express=_minutes_left(payment),
                product_code="QUICK_WAP_WAY",  # Alipay's code; the SDK's default is a typo
                **_trade(payment),
            )
        )
        return CreatedPayment(redirect_url=f"{self._alipay._gateway}?{signed}")

    async def charge_code(self, payment: PaymentRequest, auth_code: str) -> ChargeResult:
        answer = await self._call(
            self._alipay.api_alipay_trade_pay,
            scene="bar_code",
            auth_code=auth_code,
            store_id=str(payment.store_id),
            **_trade(payment),
        )
        code = answer.get("code")
        if code == _SUCCESS:
            return ChargeResult("paid", **_paid(answer, "gmt_payment"))
        if code == _BUSINESS_FAILED and answer.get("sub_code") != _SYSTEM_ERROR:
            return ChargeResult("failed", reason=_reason(answer))
        # 10003 waits for the payer; 20000 and a system error may have charged: query.
        return ChargeResult("user_paying")

    async def query(self, out_trade_no: str) -> QueryResult:
        # Its answer has no seller_id (Alipay's AlipayTradeQueryResponse), so only notifications
        # are checked for ours; the query asks for our own out_trade_no, signed by our app.
        answer = await self._call(self._alipay.api_alipay_trade_query, out_trade_no=out_trade_no)
        if answer.get("sub_code") == _NO_TRADE:
            return QueryResult("pending")
        status = _TRADE_STATUSES.get(str(_ok(answer).get("trade_status")))
        if status is None:
            raise _unreadable(f"trade_status {answer.get('trade_status')!r}")
        if status == "paid":
            return QueryResult(status, **_paid(answer, "send_pay_date"))
        return QueryResult(status)

    async def close(self, out_trade_no: str) -> None:
        answer = await self._call(self._alipay.api_alipay_trade_close, out_trade_no=out_trade_no)
        # Never scanned, or paid meanwhile: the query that follows tells which.
        if answer.get("sub_code") not in (_NO_TRADE, "ACQ.TRADE_STATUS_ERROR"):
            _ok(answer)

    async def reverse(self, out_trade_no: str) -> None:
        answer = await self._call(self._alipay.api_alipay_trade_cancel, out_trade_no=out_trade_no)
        if answer.get("sub_code") != _NO_TRADE:
            _ok(answer)

    async def refund(
        self, out_trade_no: str, out_refund_no: str, amount_fen: int, total_fen: int
    ) -> RefundResult:
        answer = await self._call(
            self._alipay.api_alipay_trade_refund,
            refund_amount=format_yuan(amount_fen),
            out_trade_no=out_trade_no,
            out_request_no=out_refund_no,
        )
        if answer.get("code") == _BUSINESS_FAILED and answer.get("sub_code") != _SYSTEM_ERROR:
            return RefundResult("failed")  # e.g. ACQ.SELLER_BALANCE_NOT_ENOUGH
        return RefundResult("succeeded", str(_ok(answer).get("trade_no", "")))

    async def query_refund(self, out_refund_no: str, out_trade_no: str) -> RefundResult | None:
        answer = await self._call(
            self._alipay.api_alipay_trade_fastpay_refund_query,
            out_request_no=out_refund_no,
            out_trade_no=out_trade_no,
        )
        if answer.get("sub_code") == _NO_TRADE:
            return None
        # Alipay refunds at once: 10000 without REFUND_SUCCESS is a refund it never took.
        status = _ok(answer).get("refund_status")
        if status is None:
            return None
        if status != _REFUNDED:
            raise _unreadable(f"refund_status {status!r}")
        return RefundResult("succeeded", str(answer.get("trade_no", "")))

    def verify_notification(
        self, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> Notification:
        """RSA2-signed by Alipay for this app (and seller, if set), at most 5 minutes old; the
        nonce is its notify_id."""
        fields = dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
        signature = fields.pop("sign", "")
        if not (signature and fields.get("notify_id") and fields.get("notify_time")):
            raise NotificationRefused(
                "the notification is not signed", code="notification_unsigned"
            )
        if (
            not self._signed_by_alipay(dict(fields), signature)
            or fields.get("app_id") != self._appid
        ):
            raise NotificationRefused("the signature does not match", code="notification_forged")
        if self._seller_id and fields.get("seller_id") != self._seller_id:
            raise NotificationRefused(
                f"the notification is about a trade of seller {fields.get('seller_id')!r}",
                code="notification_forged",
            )
        try:
            sent_at = _beijing(fields["notify_time"])
        except ValueError:
            raise NotificationRefused(
                "notify_time is not Alipay's format", code="notification_unsigned"
            ) from None
        check_fresh(sent_at, now)
        return Notification(out_trade_no=fields.get("out_trade_no", ""), nonce=fields["notify_id"])

    def _signed_by_alipay(self, fields: dict[str, str], signature: str) -> bool:
        try:
            return bool(self._alipay.verify(fields, signature))
        except (AliPayException, ValueError):  # another sign_type, or a signature not in base64
            return False

    async def _call(self, api: Callable[..., dict[str, Any]], **arguments: Any) -> dict[str, Any]:
        """The answer of an API call, its signature checked; error answers are answers too."""
        try:
            return await anyio.to_thread.run_sync(functools.partial(api, **arguments))
        except AliPayValidationError as exc:
            raise _unreadable("an answer whose signature does not verify") from exc
        except AliPayException as exc:  # an error answer, which Alipay does not sign
            raise Unavailable(f"Alipay refused: {exc}", code="provider_refused") from exc
        except (OSError, http.client.HTTPException) as exc:  # URLError, timeouts, a cut answer
            raise Unavailable(
                f"Alipay did not answer: {exc!r}", code="provider_unavailable"
            ) from exc
        except ValueError as exc:  # the SDK's json.loads of, say, a proxy's error page
            raise _unreadable("an answer that is not JSON") from exc


def _ok(answer: dict[str, Any]) -> dict[str, Any]:
    if answer.get("code") != _SUCCESS:
        raise Unavailable(f"Alipay answered {_reason(answer)}", code="provider_refused")
    return answer


def _reason(answer: dict[str, Any]) -> str:
    """Alipay's code and words for a refusal: `ACQ.BUYER_BALANCE_NOT_ENOUGH 买家余额不足`."""
    if answer.get("sub_code") or answer.get("sub_msg"):
        return failure_reason(str(answer.get("sub_code", "")), str(answer.get("sub_msg", "")))
    return failure_reason(str(answer.get("code", "")), str(answer.get("msg", "")))


def _unreadable(what: str) -> Unavailable:
    return Unavailable(f"Alipay answered {what}", code="provider_answer_malformed")


def _trade(payment: PaymentRequest) -> dict[str, Any]:
    return {
        "out_trade_no": payment.out_trade_no,
        "total_amount": format_yuan(payment.amount_fen),
        "subject": payment.description,
    }


def _minutes_left(payment: PaymentRequest) -> str:
    left = payment.expires_at - datetime.now(payment.expires_at.tzinfo)
    return f"{max(1, int(left.total_seconds() // 60))}m"


def _beijing(stamp: str) -> datetime:
    """Alipay's `2026-12-03 20:15:00`, which is Beijing time; ValueError if it is not one."""
    return datetime.strptime(stamp, _ALIPAY_TIME).replace(tzinfo=BEIJING)


def _paid(answer: dict[str, Any], paid_at: str) -> dict[str, Any]:
    """What a paid trade tells: amount, payer (user id or open id), Alipay's trade no, when.

    `total_amount` is in the trade's `trans_currency`, which only a cross-border price has.
    """
    try:
        amount = answer.get("total_amount")
        stamp = answer.get(paid_at)
        return {
            "amount_fen": parse_yuan(str(amount)) if amount else None,
            "currency": answer.get("trans_currency") or CURRENCY,
            "payer_id": answer.get("buyer_user_id") or answer.get("buyer_open_id"),
            "provider_reference": str(answer.get("trade_no", "")),
            "paid_at": _beijing(stamp) if stamp else None,
        }
    except ValueError as exc:
        raise _unreadable(f"a paid trade it cannot read: {exc}") from exc
