"""WeChat Pay API v3 through the wechatpayv3 SDK: Native QR codes, H5 pages, payment codes, refunds.

Public-key mode: requests are signed with the merchant's API key (apiclient_key.pem and its
certificate's serial number); answers and notifications are checked with the WeChat Pay public
key and its id (PUB_KEY_ID_...), so no platform certificate is ever downloaded. A notification's
resource is AES-256-GCM encrypted with the APIv3 key; it only names the payment to query.
A notification or answer about a transaction of another merchant (mchid) or app (appid) is
refused, and a paid amount in another currency than CNY is a wrong amount (`settle`).
A phone pays on WeChat's H5 page, or inside WeChat by JSAPI once WeChat's OAuth has given the
shopper's openid (`pos.payments.wechat_oauth`).

An answer we cannot read as a decision (a timeout, SYSTEMERROR, a 5xx) is `Unavailable`, so the
caller's poll or outbox retry asks again: WeChat treats a repeated out_trade_no or out_refund_no
as the same request. A payment code whose charge did not answer clearly is reported as "user
paying", which makes the caller query it and, in the end, reverse it.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self
from urllib.parse import urlencode

import httpx
from wechatpayv3.async_ import AsyncWeChatPay, WeChatPayType

from pos.errors import Unavailable
from pos.payments.provider import (
    CURRENCY,
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
    RefundStatus,
    failure_reason,
)
from pos.payments.signing import check_fresh, unix_time
from pos.payments.wechat_oauth import WeChatOAuth

__all__ = ["GATEWAY", "WeChatConfig", "WeChatPayProvider"]

GATEWAY = "https://api.mch.weixin.qq.com"
# REFUND: paid, and refunded since (by us: the refund's own row says how much).
_TRADE_STATES: dict[str, QueryStatus] = {
    "SUCCESS": "paid",
    "REFUND": "paid",
    "NOTPAY": "pending",
    "USERPAYING": "pending",
    "CLOSED": "closed",
    "REVOKED": "closed",
    "PAYERROR": "failed",
}
_REFUND_STATES: dict[str, RefundStatus] = {
    "SUCCESS": "succeeded",
    "PROCESSING": "processing",
    # Gone from the store, stuck on its way to the payer's bank: refunded, for staff to finish.
    "ABNORMAL": "succeeded",
    "CLOSED": "failed",
}
# Error codes that are answers, not failures to answer. ORDER_NOT_EXIST to a close or a reverse:
# the start never reached WeChat, so there is no trade to end.
_ALREADY_FINAL = {"ORDERPAID", "ORDER_CLOSED", "ORDER_REVERSED", "ORDER_NOT_EXIST"}
_NOT_YET_DECIDED = {"USERPAYING", "SYSTEMERROR", "BANKERROR", "FREQUENCY_LIMITED"}
_NO_SUCH_REFUND = "RESOURCE_NOT_EXISTS"  # HTTP 404 to a refund query: 退款单不存在
_TIMEOUT_S = (5.0, 15.0)  # connect, read


@dataclass(frozen=True, slots=True)
class WeChatConfig:
    """A merchant's WeChat Pay account, as the merchant platform (pay.weixin.qq.com) gives it."""

    mchid: str
    appid: str
    cert_serial_no: str
    private_key: str
    apiv3_key: str
    public_key: str
    public_key_id: str
    notify_url: str
    gateway: str = GATEWAY
    oauth: WeChatOAuth | None = None  # with the official account's AppSecret: JSAPI in WeChat


class WeChatPayProvider(PaymentProvider):
    """Direct-merchant WeChat Pay; `async with` it to open its connection pool."""

    name = "wechat"

    def __init__(self, config: WeChatConfig) -> None:
        self._mchid, self._appid = config.mchid, config.appid
        self.oauth = config.oauth
        self._pay = AsyncWeChatPay(
            wechatpay_type=WeChatPayType.NATIVE,
            mchid=config.mchid,
            private_key=config.private_key,
            cert_serial_no=config.cert_serial_no,
            appid=config.appid,
            apiv3_key=config.apiv3_key,
            notify_url=config.notify_url,
            public_key=config.public_key,
            public_key_id=config.public_key_id,
            timeout=_TIMEOUT_S,
        )
        # The SDK has no setting for its gateway: this is how WeChat's backup domain
        # (api2.mch.weixin.qq.com) or a test double is used.
        self._pay._core._gate_way = config.gateway.rstrip("/")

    async def __aenter__(self) -> Self:
        await self._pay.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._pay.__aexit__(None, None, None)

    async def create(self, payment: PaymentRequest) -> CreatedPayment:
        answer = await _call(self._pay.pay(**_order(payment), pay_type=WeChatPayType.NATIVE))
        return CreatedPayment(qr_url=str(answer.ok()["code_url"]))

    async def create_web(self, payment: PaymentRequest, browser: PhoneBrowser) -> CreatedPayment:
        if browser.wechat_openid:
            return await self._create_jsapi(payment, browser.wechat_openid)
        answer = await _call(
            self._pay.pay(
                **_order(payment),
                scene_info={"payer_client_ip": browser.client_ip, "h5_info": {"type": "Wap"}},
                pay_type=WeChatPayType.H5,
            )
        )
        # WeChat sends the browser back to `redirect_url` once the payment is done or dropped.
        back = urlencode({"redirect_url": browser.return_url})
        return CreatedPayment(redirect_url=f"{answer.ok()['h5_url']}&{back}")

    async def _create_jsapi(self, payment: PaymentRequest, openid: str) -> CreatedPayment:
        answer = await _call(
            self._pay.pay(**_order(payment), payer={"openid": openid}, pay_type=WeChatPayType.JSAPI)
        )
        package = f"prepay_id={answer.ok()['prepay_id']}"
        stamp, nonce = str(int(time.time())), secrets.token_hex(16)
        signature = self._pay.sign([self._appid, stamp, nonce, package])
        return CreatedPayment(
            wechat_jsapi={
                "appId": self._appid,
                "timeStamp": stamp,
                "nonceStr": nonce,
                "package": package,
                "signType": "RSA",
                "paySign": signature,
            }
        )

    async def charge_code(self, payment: PaymentRequest, auth_code: str) -> ChargeResult:
        answer = await _call(
            self._pay.pay(
                **_order(payment),
                payer={"auth_code": auth_code},
                scene_info={"store_info": {"out_id": str(payment.store_id)}},
                pay_type=WeChatPayType.CODEPAY,
            )
        )
        if answer.succeeded and answer.body.get("trade_state") == "SUCCESS":
            return ChargeResult("paid", **_paid(self._ours(answer.body)))
        if answer.succeeded or answer.undecided:
            return ChargeResult("user_paying")
        return ChargeResult("failed", reason=answer.reason)

    async def query(self, out_trade_no: str) -> QueryResult:
        answer = await _call(self._pay.query(out_trade_no=out_trade_no))
        if answer.code == "ORDER_NOT_EXIST":
            # Not yet, perhaps: a charge answered SYSTEMERROR may land later, and WeChat tells
            # nobody of a payment code's trade. Giving up decides (`settle._give_up`).
            return QueryResult("pending")
        body = self._ours(answer.ok())
        status = _TRADE_STATES.get(str(body.get("trade_state")))
        if status is None:
            raise _unreadable(f"trade_state {body.get('trade_state')!r}")
        if status == "failed":  # PAYERROR, and in trade_state_desc why
            why = failure_reason(body["trade_state"], str(body.get("trade_state_desc", "")))
            return QueryResult(status, reason=why)
        return QueryResult(status, **_paid(body)) if status == "paid" else QueryResult(status)

    async def close(self, out_trade_no: str) -> None:
        answer = await _call(self._pay.close(out_trade_no=out_trade_no))
        if answer.code not in _ALREADY_FINAL:
            answer.ok()

    async def reverse(self, out_trade_no: str) -> None:
        answer = await _call(self._pay.codepay_reverse(out_trade_no=out_trade_no))
        if answer.code not in _ALREADY_FINAL:
            answer.ok()

    async def refund(
        self, out_trade_no: str, out_refund_no: str, amount_fen: int, total_fen: int
    ) -> RefundResult:
        answer = await _call(
            self._pay.refund(
                out_refund_no=out_refund_no,
                out_trade_no=out_trade_no,
                amount={"refund": amount_fen, "total": total_fen, "currency": CURRENCY},
            )
        )
        if not answer.succeeded and not answer.undecided:
            return RefundResult("failed")  # e.g. NOT_ENOUGH: the money is still the store's
        return _refund_result(answer.ok())

    async def query_refund(self, out_refund_no: str, out_trade_no: str) -> RefundResult | None:
        answer = await _call(self._pay.query_refund(out_refund_no=out_refund_no))
        if answer.code == _NO_SUCH_REFUND:
            return None
        return _refund_result(answer.ok())

    def verify_notification(
        self, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> Notification:
        """Signed with the WeChat Pay public key, at most 5 minutes old, its resource readable."""
        fields = {name.lower(): value for name, value in headers.items()}
        timestamp, nonce = fields.get("wechatpay-timestamp", ""), fields.get("wechatpay-nonce", "")
        if not (timestamp and nonce and fields.get("wechatpay-signature")):
            raise NotificationRefused(
                "the notification is not signed", code="notification_unsigned"
            )
        try:
            message = self._pay.callback(fields, body)
        except Exception:  # the SDK raises a bare Exception for an unknown signature type
            message = None
        if not message:
            raise NotificationRefused(
                "the signature or the encrypted resource does not check out",
                code="notification_forged",
            )
        check_fresh(unix_time(timestamp), now)
        transaction = message["resource"]
        if others := self._others(transaction):
            raise NotificationRefused(
                f"the notification is about a payment to {others}", code="notification_forged"
            )
        out_trade_no = transaction.get("out_trade_no")
        if not out_trade_no:
            raise NotificationRefused(
                "the notification names no payment", code="notification_forged"
            )
        return Notification(out_trade_no=str(out_trade_no), nonce=nonce)

    def _others(self, transaction: Mapping[str, Any]) -> str:
        """The merchant or app a transaction names instead of ours; empty when it is ours.

        A notification or answer about another account's payment (a shared notify URL, a
        misrouted gateway) must not settle ours, whatever out_trade_no it names.
        """
        ours = {"mchid": self._mchid, "appid": self._appid}
        named = {field: transaction.get(field) for field in ours}
        return ", ".join(
            f"{field} {named[field]!r}" for field in ours if named[field] != ours[field]
        )

    def _ours(self, transaction: dict[str, Any]) -> dict[str, Any]:
        """The transaction, if it is our merchant's and app's; `Unavailable` if not."""
        if others := self._others(transaction):
            raise _unreadable(f"a transaction of {others}")
        return transaction


@dataclass(frozen=True, slots=True)
class _Answer:
    """A gateway's HTTP status and JSON body; an error's body holds `code` and `message`."""

    status: int
    body: dict[str, Any]

    @property
    def succeeded(self) -> bool:
        return 200 <= self.status < 300

    @property
    def code(self) -> str:
        return "" if self.succeeded else str(self.body.get("code", ""))

    @property
    def reason(self) -> str:
        """WeChat's code and words for an error: `NOTENOUGH 用户余额不足`."""
        words = str(self.body.get("message", ""))
        return failure_reason(self.code, words) or f"HTTP {self.status}"

    @property
    def undecided(self) -> bool:
        """An error that says nothing about the outcome: ask again later."""
        return self.status >= 500 or self.status == 429 or self.code in _NOT_YET_DECIDED

    def ok(self) -> dict[str, Any]:
        """The body of a successful answer; `Unavailable` with WeChat's reason otherwise."""
        if not self.succeeded:
            raise Unavailable(
                f"WeChat Pay refused: {self.reason}",
                code="provider_refused",
            )
        return self.body


async def _call(request: Awaitable[tuple[int, str | bytes]]) -> _Answer:
    try:
        status, text = await request
    except httpx.HTTPError as exc:
        raise Unavailable(
            f"WeChat Pay did not answer: {exc!r}", code="provider_unavailable"
        ) from exc
    except Exception as exc:  # the SDK's own: an answer whose signature does not verify
        raise _unreadable(str(exc)) from exc
    try:
        body = json.loads(text) if text else {}
    except ValueError as exc:
        raise _unreadable("an answer that is not JSON") from exc
    return _Answer(status, body if isinstance(body, dict) else {})


def _unreadable(what: str) -> Unavailable:
    return Unavailable(f"WeChat Pay answered {what}", code="provider_answer_malformed")


def _order(payment: PaymentRequest) -> dict[str, Any]:
    return {
        "description": payment.description,
        "out_trade_no": payment.out_trade_no,
        "amount": {"total": payment.amount_fen, "currency": CURRENCY},
        "time_expire": payment.expires_at.isoformat(timespec="seconds"),
    }


def _refund_result(body: dict[str, Any]) -> RefundResult:
    """A refund as both the refund call and its query answer it."""
    status = _REFUND_STATES.get(str(body.get("status")))
    if status is None:
        raise _unreadable(f"refund status {body.get('status')!r}")
    reference, stranded = str(body.get("refund_id", "")), body.get("status") == "ABNORMAL"
    return RefundResult(status, reference, stranded=stranded)


def _paid(body: dict[str, Any]) -> dict[str, Any]:
    """What a paid transaction tells: amount and its currency, payer (openid), WeChat's id, when."""
    success_time = body.get("success_time")
    amount = body.get("amount") or {}
    return {
        "amount_fen": amount.get("total"),
        "currency": amount.get("currency", CURRENCY),
        "payer_id": (body.get("payer") or {}).get("openid"),
        "provider_reference": str(body.get("transaction_id", "")),
        "paid_at": datetime.fromisoformat(success_time) if success_time else None,
    }
