"""An Alipay open-API double on a loopback socket, strict where the real gateway is.

It answers `GET /gateway.do?method=...` only when the request's `sign` is the app's RSA2
signature over its sorted parameters and its timestamp is Beijing time. It signs each answer's
`<method>_response` object with its own key (the "Alipay public key" the app is given), and
leaves error answers unsigned, like Alipay.
A face-to-face QR trade exists only once scanned (`scan_and_pay`): queried before, it is
ACQ.TRADE_NOT_EXIST. Payment codes answer by their last four digits, like the sandbox: 0001 waits
for the payer, 0003 has not enough money, 0009 pays but answers ACQ.SYSTEM_ERROR (as a busy
Alipay may), any other pays at once. `refund_system_errors` refunds that many and answers
ACQ.SYSTEM_ERROR all the same; `not_json` answers a proxy's error page instead. A refund query
(alipay.trade.fastpay.refund.query) answers REFUND_SUCCESS for a refund it took, and 10000
without a refund_status for one it never got, as Alipay does.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.helpers.loopback import LoopbackServer

APPID = "2021000000000001"
SELLER_ID = "2088101106499364"  # the merchant's PID, which every notification names
BEIJING = ZoneInfo("Asia/Shanghai")


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _sign(key: rsa.RSAPrivateKey, text: str) -> str:
    signature = key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def _sorted_content(params: dict[str, str]) -> str:
    return "&".join(f"{k}={v}" for k, v in sorted(params.items()))


def _beijing_now(offset: timedelta = timedelta()) -> str:
    return (datetime.now(BEIJING) + offset).strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class Trade:
    out_trade_no: str
    total_amount: str
    status: str = "WAIT_BUYER_PAY"
    scanned: bool = False
    buyer_user_id: str = ""
    trade_no: str = ""
    paid_at: str = ""
    return_url: str = ""  # phone web payments only
    refunds: dict[str, str] = field(default_factory=dict)  # out_request_no -> amount
    trans_currency: str = ""  # a price in another currency (cross-border): a test sets one

    def as_json(self) -> dict[str, Any]:
        body = {
            "code": "10000",
            "msg": "Success",
            "out_trade_no": self.out_trade_no,
            "trade_status": self.status,
            "total_amount": self.total_amount,
        }
        if self.trans_currency:
            body["trans_currency"] = self.trans_currency
        if self.trade_no:
            body |= {
                "trade_no": self.trade_no,
                "buyer_user_id": self.buyer_user_id,
                "send_pay_date": self.paid_at,
                "gmt_payment": self.paid_at,
            }
        return body


class AlipayGateway(LoopbackServer):
    """The double's keys, trades and server; `url` once started."""

    def __init__(self) -> None:
        super().__init__()
        self.app_key = new_key()
        self.alipay_key = new_key()
        self.trades: dict[str, Trade] = {}
        self.refund_system_errors = 0
        self.not_json = False

    def write_keys(self, folder: Path) -> tuple[Path, Path]:
        """The app's private key and Alipay's public key, as files the merchant has."""
        private, public = folder / "app_private_key.pem", folder / "alipay_public_key.pem"
        private.write_bytes(
            self.app_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
        public.write_bytes(
            self.alipay_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        return private, public

    async def start(self) -> None:
        app = web.Application()
        app.add_routes([web.get("/gateway.do", self._gateway)])
        await self.serve(app)
        self.url += "/gateway.do"

    def scan_and_pay(self, out_trade_no: str, buyer: str = "2088102169481075") -> None:
        """The shopper scans the QR code in Alipay, or opened its cashier page, and pays."""
        trade = self.trades[out_trade_no]
        trade.scanned = True
        self._paid(trade, buyer)

    def notification(
        self,
        out_trade_no: str,
        *,
        sent: timedelta = timedelta(),
        key: rsa.RSAPrivateKey | None = None,
        seller_id: str = SELLER_ID,
    ) -> bytes:
        """A trade_status_sync notification, form-encoded and signed, as Alipay posts it.

        `seller_id`: another merchant of the same app (an ISV's) is paid by this trade.
        """
        trade = self.trades[out_trade_no]
        fields = {
            "notify_time": _beijing_now(sent),
            "notify_type": "trade_status_sync",
            "notify_id": uuid.uuid4().hex,
            "app_id": APPID,
            "seller_id": seller_id,
            "charset": "utf-8",
            "version": "1.0",
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "trade_status": trade.status,
            "total_amount": trade.total_amount,
            "buyer_id": trade.buyer_user_id,
            "gmt_payment": trade.paid_at,
        }
        # Alipay signs every field but `sign` and `sign_type`.
        signature = _sign(key or self.alipay_key, _sorted_content(fields))
        return urlencode(fields | {"sign_type": "RSA2", "sign": signature}).encode()

    def _paid(self, trade: Trade, buyer: str) -> None:
        trade.status = "TRADE_SUCCESS"
        trade.buyer_user_id = buyer
        trade.trade_no = f"2026{secrets.randbelow(10**24):024d}"
        trade.paid_at = _beijing_now()

    def _answer(self, method: str, body: dict[str, Any]) -> web.Response:
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        name = method.replace(".", "_") + "_response"
        signature = _sign(self.alipay_key, content)
        text = f'{{"{name}":{content},"sign":"{signature}"}}'
        return web.Response(text=text, content_type="application/json", charset="utf-8")

    def _failed(self, method: str, sub_code: str, sub_msg: str) -> web.Response:
        body = {"code": "40004", "msg": "Business Failed", "sub_code": sub_code, "sub_msg": sub_msg}
        return self._answer(method, body)

    def _invalid(self, sub_code: str) -> web.Response:
        """A system error: Alipay leaves these unsigned."""
        error = {"code": "40002", "msg": "Invalid Arguments", "sub_code": sub_code}
        return web.json_response({"error_response": error})

    async def _gateway(self, request: web.Request) -> web.Response:
        if self.not_json:
            return web.Response(text="<h1>502 Bad Gateway</h1>", content_type="text/html")
        params = dict(parse_qsl(request.query_string, keep_blank_values=True))
        signature = params.pop("sign", "")
        try:
            self.app_key.public_key().verify(
                base64.b64decode(signature),
                _sorted_content(params).encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except Exception:
            return self._invalid("isv.invalid-signature")
        if params.get("app_id") != APPID or params.get("sign_type") != "RSA2":
            return self._invalid("isv.invalid-app-id")
        sent = datetime.strptime(params["timestamp"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
        if abs(datetime.now(BEIJING) - sent) > timedelta(minutes=10):
            return self._invalid("isv.invalid-timestamp")  # not Beijing time
        method, biz = params["method"], json.loads(params["biz_content"])
        handler = getattr(self, "_" + method.removeprefix("alipay.trade.").replace(".", "_"))
        result: web.Response = handler(method, biz, params)
        return result

    def _precreate(self, method: str, biz: dict[str, Any], params: dict[str, str]) -> web.Response:
        if not params.get("notify_url", "").startswith("http"):
            return self._failed(method, "ACQ.INVALID_PARAMETER", "notify_url 无效")
        trade = self.trades.setdefault(
            biz["out_trade_no"], Trade(biz["out_trade_no"], biz["total_amount"])
        )
        return self._answer(
            method,
            {
                "code": "10000",
                "msg": "Success",
                "out_trade_no": trade.out_trade_no,
                "qr_code": f"https://qr.alipay.com/{trade.out_trade_no}",
            },
        )

    def _wap_pay(self, method: str, biz: dict[str, Any], params: dict[str, str]) -> web.Response:
        """The cashier page the shopper's browser is sent to; the trade exists from now on."""
        for url in ("notify_url", "return_url"):
            if not params.get(url, "").startswith("http"):
                return self._failed(method, "ACQ.INVALID_PARAMETER", f"{url} 无效")
        if biz.get("product_code") != "QUICK_WAP_WAY":
            return self._failed(method, "ACQ.INVALID_PARAMETER", "product_code 无效")
        trade = self.trades.setdefault(
            biz["out_trade_no"], Trade(biz["out_trade_no"], biz["total_amount"], scanned=True)
        )
        trade.return_url = params["return_url"]
        page = f"<title>支付宝收银台</title><p>¥{trade.total_amount}</p>"
        return web.Response(text=page, content_type="text/html", charset="utf-8")

    def _pay(self, method: str, biz: dict[str, Any], params: dict[str, str]) -> web.Response:
        trade = self.trades.setdefault(
            biz["out_trade_no"], Trade(biz["out_trade_no"], biz["total_amount"], scanned=True)
        )
        if biz["auth_code"].endswith("0003"):
            trade.status = "TRADE_CLOSED"
            return self._failed(method, "ACQ.BUYER_BALANCE_NOT_ENOUGH", "买家余额不足")
        if biz["auth_code"].endswith("0001"):
            body = {"code": "10003", "msg": "等待用户付款", "out_trade_no": trade.out_trade_no}
            return self._answer(method, body)
        self._paid(trade, "2088102169481075")
        if biz["auth_code"].endswith("0009"):
            return self._failed(method, "ACQ.SYSTEM_ERROR", "系统错误")
        return self._answer(method, trade.as_json())

    def _query(self, method: str, biz: dict[str, Any], params: dict[str, str]) -> web.Response:
        trade = self.trades.get(biz["out_trade_no"])
        if trade is None or not trade.scanned:
            return self._failed(method, "ACQ.TRADE_NOT_EXIST", "交易不存在")
        return self._answer(method, trade.as_json())

    def _close(self, method: str, biz: dict[str, Any], params: dict[str, str]) -> web.Response:
        trade = self.trades.get(biz["out_trade_no"])
        if trade is None or not trade.scanned:
            return self._failed(method, "ACQ.TRADE_NOT_EXIST", "交易不存在")
        if trade.status == "TRADE_SUCCESS":
            return self._failed(method, "ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
        trade.status = "TRADE_CLOSED"
        return self._answer(method, {"code": "10000", "msg": "Success"})

    def _cancel(self, method: str, biz: dict[str, Any], params: dict[str, str]) -> web.Response:
        trade = self.trades.get(biz["out_trade_no"])
        if trade is None:
            return self._failed(method, "ACQ.TRADE_NOT_EXIST", "交易不存在")
        action = "refund" if trade.status == "TRADE_SUCCESS" else "close"
        trade.status = "TRADE_CLOSED"
        return self._answer(method, {"code": "10000", "msg": "Success", "action": action})

    def _refund(self, method: str, biz: dict[str, Any], params: dict[str, str]) -> web.Response:
        trade = self.trades.get(biz["out_trade_no"])
        if trade is None or not trade.trade_no:
            return self._failed(method, "ACQ.TRADE_NOT_EXIST", "交易不存在")
        request_no = biz.get("out_request_no", biz["out_trade_no"])
        if request_no not in trade.refunds:
            refunded = sum(_fen(amount) for amount in trade.refunds.values())
            if refunded + _fen(biz["refund_amount"]) > _fen(trade.total_amount):
                return self._failed(method, "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
            trade.refunds[request_no] = biz["refund_amount"]
        if self.refund_system_errors:
            self.refund_system_errors -= 1
            return self._failed(method, "ACQ.SYSTEM_ERROR", "系统错误")
        return self._answer(
            method,
            {
                "code": "10000",
                "msg": "Success",
                "trade_no": trade.trade_no,
                "out_trade_no": trade.out_trade_no,
                "refund_fee": trade.refunds[request_no],
                "fund_change": "Y",
            },
        )

    def _fastpay_refund_query(
        self, method: str, biz: dict[str, Any], params: dict[str, str]
    ) -> web.Response:
        trade = self.trades.get(biz.get("out_trade_no", ""))
        if trade is None or not trade.trade_no:
            return self._failed(method, "ACQ.TRADE_NOT_EXIST", "交易不存在")
        body = {"code": "10000", "msg": "Success", "out_trade_no": trade.out_trade_no}
        refunded = trade.refunds.get(biz["out_request_no"])
        if refunded is not None:
            body |= {
                "trade_no": trade.trade_no,
                "out_request_no": biz["out_request_no"],
                "total_amount": trade.total_amount,
                "refund_amount": refunded,
                "refund_status": "REFUND_SUCCESS",
            }
        return self._answer(method, body)


def _fen(yuan: str) -> int:
    whole, _, cents = yuan.partition(".")
    return int(whole) * 100 + int(cents.ljust(2, "0") or 0)
