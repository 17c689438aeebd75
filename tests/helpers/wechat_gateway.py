"""A WeChat Pay API v3 double on a loopback socket, strict where the real gateway is.

It refuses a request whose Authorization header is not the merchant's RSA signature over
`method\\npath\\ntimestamp\\nnonce\\nbody\\n`, signs every answer with its own key (the "WeChat
Pay public key" the merchant is given, with its id), and builds notifications as WeChat does:
the transaction AES-256-GCM encrypted with the APIv3 key, the body signed. Payment codes answer
by their last four digits, like the sandbox: 0001 user paying, 0003 not enough money, else paid.
A refund takes `refund_status` (SUCCESS; PROCESSING until `finish_refund`; ABNORMAL) and is
queried by its out_refund_no, whose answer is the refund call's.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from yarl import URL

from tests.helpers.loopback import LoopbackServer

MCHID = "1900000109"
APPID = "wxd678efh567hg6787"
SERIAL_NO = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
PUBLIC_KEY_ID = "PUB_KEY_ID_0119000001092025"
H5_PAGE = "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb"


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _sign(key: rsa.RSAPrivateKey, message: str) -> str:
    signature = key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def _pem(key: rsa.RSAPrivateKey, *, public: bool) -> str:
    if public:
        return (
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@dataclass
class Trade:
    out_trade_no: str
    total_fen: int
    state: str = "NOTPAY"
    openid: str = ""
    transaction_id: str = ""
    success_time: str = ""
    payer_client_ip: str = ""  # H5 payments only
    prepaid_for: str = ""  # JSAPI payments only: the openid that may pay
    refunds: list[dict[str, Any]] = field(default_factory=list)
    # Whose trade it says it is, and in what money: a test sets another to see it refused.
    mchid: str = MCHID
    appid: str = APPID
    currency: str = "CNY"

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "appid": self.appid,
            "mchid": self.mchid,
            "out_trade_no": self.out_trade_no,
            "trade_state": self.state,
            "amount": {"total": self.total_fen, "currency": self.currency},
        }
        if self.transaction_id:
            body |= {
                "transaction_id": self.transaction_id,
                "payer": {"openid": self.openid},
                "success_time": self.success_time,
            }
        return body


class WeChatGateway(LoopbackServer):
    """The double's keys, trades and server; `url` once started."""

    def __init__(self) -> None:
        super().__init__()
        self.merchant_key = _new_key()
        self.platform_key = _new_key()
        self.apiv3_key = secrets.token_hex(16)  # 32 characters, as WeChat's
        self.trades: dict[str, Trade] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        # PROCESSING: WeChat's usual first answer; ABNORMAL: the payer's card was closed since
        self.refund_status = "SUCCESS"
        self.refund_requests: list[str] = []  # out_refund_no of every refund call
        self.refund_queries: list[str] = []
        self.refused: list[str] = []
        self.paid_amount_override: int | None = None

    def write_keys(self, folder: Path) -> tuple[Path, Path]:
        """The merchant's private key and WeChat Pay's public key, as files the merchant has."""
        private, public = folder / "apiclient_key.pem", folder / "pub_key.pem"
        private.write_text(_pem(self.merchant_key, public=False))
        public.write_text(_pem(self.platform_key, public=True))
        return private, public

    async def start(self) -> None:
        app = web.Application(middlewares=[self._authenticated])
        app.add_routes(
            [
                web.post("/v3/pay/transactions/native", self._native),
                web.post("/v3/pay/transactions/h5", self._h5),
                web.post("/v3/pay/transactions/jsapi", self._jsapi),
                web.post("/v3/pay/transactions/codepay", self._codepay),
                web.get("/v3/pay/transactions/out-trade-no/{no}", self._query),
                web.post("/v3/pay/transactions/out-trade-no/{no}/close", self._close),
                web.post("/v3/pay/transactions/out-trade-no/{no}/reverse", self._reverse),
                web.post("/v3/refund/domestic/refunds", self._refund),
                web.get("/v3/refund/domestic/refunds/{no}", self._query_refund),
            ]
        )
        await self.serve(app)

    def pay(self, out_trade_no: str, openid: str = "o-shopper") -> None:
        """The shopper pays in WeChat."""
        trade = self.trades[out_trade_no]
        trade.state = "SUCCESS"
        trade.openid = openid
        trade.transaction_id = f"4200{uuid.uuid4().int % 10**24:024d}"
        trade.success_time = datetime.now(UTC).isoformat(timespec="seconds")

    def finish_refund(self, out_refund_no: str, status: str = "SUCCESS") -> None:
        """WeChat ends a refund it was processing: SUCCESS, CLOSED or ABNORMAL."""
        refund = self.refunds[out_refund_no]
        refund["status"] = status
        if status == "SUCCESS":
            refund["success_time"] = datetime.now(UTC).isoformat(timespec="seconds")

    def notification(
        self, out_trade_no: str, *, at: float | None = None, key: str | None = None
    ) -> tuple[dict[str, str], bytes]:
        """A TRANSACTION.SUCCESS notification's headers and body, as WeChat posts it."""
        nonce = secrets.token_hex(6)
        plain = json.dumps(self.trades[out_trade_no].as_json()).encode()
        sealed = AESGCM((key or self.apiv3_key).encode()).encrypt(
            nonce.encode(), plain, b"transaction"
        )
        body = json.dumps(
            {
                "id": f"EV-{uuid.uuid4().hex}",
                "create_time": datetime.now(UTC).isoformat(timespec="seconds"),
                "resource_type": "encrypt-resource",
                "event_type": "TRANSACTION.SUCCESS",
                "summary": "支付成功",
                "resource": {
                    "original_type": "transaction",
                    "algorithm": "AEAD_AES_256_GCM",
                    "ciphertext": base64.b64encode(sealed).decode(),
                    "associated_data": "transaction",
                    "nonce": nonce,
                },
            }
        )
        return self._signed_headers(body, at), body.encode()

    def _signed_headers(self, body: str, at: float | None = None) -> dict[str, str]:
        timestamp, nonce = str(int(at if at is not None else time.time())), secrets.token_hex(16)
        return {
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": _sign(self.platform_key, f"{timestamp}\n{nonce}\n{body}\n"),
            "Wechatpay-Serial": PUBLIC_KEY_ID,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        }

    def _answer(self, status: int, body: dict[str, Any] | None = None) -> web.Response:
        text = json.dumps(body) if body is not None else ""
        headers = self._signed_headers(text)
        if body is None:
            return web.Response(status=status, headers=headers)
        return web.Response(
            status=status, text=text, content_type="application/json", headers=headers
        )

    def _error(self, status: int, code: str, message: str) -> web.Response:
        return self._answer(status, {"code": code, "message": message})

    @web.middleware
    async def _authenticated(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.text()
        scheme, _, params = request.headers.get("Authorization", "").partition(" ")
        fields = dict(part.split("=", 1) for part in params.split(",") if "=" in part)
        fields = {name: value.strip('"') for name, value in fields.items()}
        message = (
            f"{request.method}\n{request.path_qs}\n{fields.get('timestamp')}\n"
            f"{fields.get('nonce_str')}\n{body}\n"
        )
        try:
            self.merchant_key.public_key().verify(
                base64.b64decode(fields.get("signature", "")),
                message.encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except Exception:
            self.refused.append(request.path)
            return self._error(401, "SIGN_ERROR", "签名错误")
        if scheme != "WECHATPAY2-SHA256-RSA2048" or fields.get("mchid") != MCHID:
            return self._error(401, "SIGN_ERROR", "商户号或签名方式错误")
        if fields.get("serial_no") != SERIAL_NO:
            return self._error(401, "SIGN_ERROR", "证书序列号错误")
        return await handler(request)

    def _open_trade(self, order: dict[str, Any]) -> Trade:
        return self.trades.setdefault(
            order["out_trade_no"], Trade(order["out_trade_no"], order["amount"]["total"])
        )

    async def _native(self, request: web.Request) -> web.Response:
        order = await request.json()
        if not order.get("notify_url", "").startswith("http"):
            return self._error(400, "PARAM_ERROR", "notify_url 格式错误")
        trade = self._open_trade(order)
        return self._answer(200, {"code_url": f"weixin://wxpay/bizpayurl?pr={trade.out_trade_no}"})

    async def _h5(self, request: web.Request) -> web.Response:
        order = await request.json()
        scene = order.get("scene_info", {})
        if not scene.get("payer_client_ip") or scene.get("h5_info", {}).get("type") != "Wap":
            return self._error(400, "PARAM_ERROR", "缺少 scene_info.payer_client_ip 或 h5_info")
        if not order.get("notify_url", "").startswith("http"):
            return self._error(400, "PARAM_ERROR", "notify_url 格式错误")
        trade = self._open_trade(order)
        trade.payer_client_ip = scene["payer_client_ip"]
        page = f"{H5_PAGE}?prepay_id=wx{trade.out_trade_no}&package=2550"
        return self._answer(200, {"h5_url": page})

    async def _jsapi(self, request: web.Request) -> web.Response:
        order = await request.json()
        openid = order.get("payer", {}).get("openid")
        if not openid or order.get("appid") != APPID:
            return self._error(400, "PARAM_ERROR", "缺少 payer.openid 或 appid 不符")
        if not order.get("notify_url", "").startswith("http"):
            return self._error(400, "PARAM_ERROR", "notify_url 格式错误")
        trade = self._open_trade(order)
        trade.prepaid_for = openid
        return self._answer(200, {"prepay_id": f"wx{trade.out_trade_no}"})

    async def _codepay(self, request: web.Request) -> web.Response:
        order = await request.json()
        auth_code = order["payer"]["auth_code"]
        if not order.get("scene_info", {}).get("store_info", {}).get("out_id"):
            return self._error(400, "PARAM_ERROR", "缺少 scene_info.store_info.out_id")
        trade = self._open_trade(order)
        if auth_code.endswith("0003"):
            trade.state = "PAYERROR"
            return self._error(403, "NOTENOUGH", "用户余额不足")
        if auth_code.endswith("0001"):
            trade.state = "USERPAYING"
            return self._error(202, "USERPAYING", "需要用户输入支付密码")
        self.pay(trade.out_trade_no)
        return self._answer(200, trade.as_json())

    async def _query(self, request: web.Request) -> web.Response:
        if request.query.get("mchid") != MCHID:
            return self._error(400, "PARAM_ERROR", "mchid 不能为空")
        trade = self.trades.get(request.match_info["no"])
        if trade is None:
            return self._error(404, "ORDER_NOT_EXIST", "订单不存在")
        body = trade.as_json()
        if self.paid_amount_override is not None:
            body["amount"]["total"] = self.paid_amount_override
        return self._answer(200, body)

    async def _close(self, request: web.Request) -> web.Response:
        trade = self.trades.get(request.match_info["no"])
        if trade is None:
            return self._error(404, "ORDER_NOT_EXIST", "订单不存在")
        if trade.state == "SUCCESS":
            return self._error(400, "ORDERPAID", "订单已支付")
        trade.state = "CLOSED"
        return self._answer(204)

    async def _reverse(self, request: web.Request) -> web.Response:
        trade = self.trades.get(request.match_info["no"])
        if trade is None:
            return self._error(404, "ORDER_NOT_EXIST", "订单不存在")
        trade.state = "REVOKED"
        return self._answer(200, {})

    async def _refund(self, request: web.Request) -> web.Response:
        refund = await request.json()
        self.refund_requests.append(refund["out_refund_no"])
        if answered := self.refunds.get(refund["out_refund_no"]):
            return self._answer(200, answered)  # the same out_refund_no is the same refund
        trade = self.trades.get(refund.get("out_trade_no", ""))
        if trade is None or trade.state not in ("SUCCESS", "REFUND"):
            return self._error(400, "INVALID_REQUEST", "订单未支付")
        refunded = sum(r["amount"]["refund"] for r in trade.refunds)
        if refunded + refund["amount"]["refund"] > trade.total_fen:
            return self._error(400, "INVALID_REQUEST", "退款金额超过订单金额")
        trade.refunds.append(refund)
        trade.state = "REFUND"
        now = datetime.now(UTC).isoformat(timespec="seconds")
        self.refunds[refund["out_refund_no"]] = {
            "refund_id": f"5030{uuid.uuid4().int % 10**24:024d}",
            "out_refund_no": refund["out_refund_no"],
            "transaction_id": trade.transaction_id,
            "out_trade_no": trade.out_trade_no,
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "create_time": now,
            "status": self.refund_status,
            "amount": refund["amount"]
            | {"payer_total": trade.total_fen, "payer_refund": refund["amount"]["refund"]},
        } | ({"success_time": now} if self.refund_status == "SUCCESS" else {})
        return self._answer(200, self.refunds[refund["out_refund_no"]])

    async def _query_refund(self, request: web.Request) -> web.Response:
        out_refund_no = request.match_info["no"]
        self.refund_queries.append(out_refund_no)
        refund = self.refunds.get(out_refund_no)
        if refund is None:
            return self._error(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
        return self._answer(200, refund)


class WeChatSignIn(LoopbackServer):
    """The official account's web OAuth: signs every browser in silently as `openid`."""

    def __init__(self, openid: str = "o-jsapi-shopper") -> None:
        super().__init__()
        self.secret = secrets.token_hex(16)
        self.openid = openid
        self.codes: set[str] = set()  # given and not used yet

    async def start(self) -> None:
        app = web.Application()
        app.add_routes(
            [
                web.get("/connect/oauth2/authorize", self._authorize),
                web.get("/sns/oauth2/access_token", self._access_token),
            ]
        )
        await self.serve(app)

    async def _authorize(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        if query.get("appid") != APPID or query.get("scope") != "snsapi_base":
            return web.Response(status=400, text="appid or scope")
        code = secrets.token_hex(8)
        self.codes.add(code)
        back = URL(query["redirect_uri"]).update_query(code=code, state=query.get("state", ""))
        raise web.HTTPFound(str(back))

    async def _access_token(self, request: web.Request) -> web.Response:
        query = request.query
        if query.get("appid") != APPID or query.get("secret") != self.secret:
            return web.json_response({"errcode": 40125, "errmsg": "invalid appsecret"})
        if query.get("code") not in self.codes:
            return web.json_response({"errcode": 40029, "errmsg": "invalid code"})
        self.codes.discard(query["code"])
        return web.json_response(
            {"access_token": "t", "expires_in": 7200, "openid": self.openid, "scope": "snsapi_base"}
        )
