"""The sandbox's simulated wallet: the page a shopper pays on, and the notification that follows.

Paying marks the sandbox payment paid and writes a `sandbox_notify` outbox event in the same
transaction, so a crash cannot lose the notification. Its handler posts a signed notification to
`POST /api/payments/notify/sandbox`, with a fresh timestamp and nonce on every try (WeChat signs
each delivery anew); an answer other than 2xx fails the handler and the outbox tries again with
back-off, as WeChat retries unanswered notifications over hours.
"""

from __future__ import annotations

import html
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Self

import httpx

from pos.db import write_transaction
from pos.errors import NotFound, Unavailable
from pos.events.outbox import emit, notify
from pos.money import format_yuan
from pos.payments.sandbox import SandboxProvider, find_payment
from pos.payments.signing import signed_headers
from pos.payments.tables import SandboxPayment
from pos.tls import tls_context

__all__ = [
    "NOTIFY_EVENT",
    "NOTIFY_PATH",
    "HttpSender",
    "Sender",
    "deliver_notification",
    "pay",
    "render_wallet",
    "wallet_page",
]

NOTIFY_EVENT = "sandbox_notify"
NOTIFY_PATH = "/api/payments/notify/sandbox"
SEND_TIMEOUT_S = 5.0

Sender = Callable[[str, Mapping[str, str], bytes], Awaitable[int]]
"""Posts (url, headers, body) and returns the HTTP status."""


class HttpSender:
    """Posts over real HTTP, as a gateway does, through one client kept open for its life.

    A process that sends many holds one (`async with HttpSender() as send:`): its connections
    to the server are reused instead of opened for every notification.
    """

    def __init__(self) -> None:
        self._http = httpx.AsyncClient(timeout=SEND_TIMEOUT_S, verify=tls_context())

    async def __call__(self, url: str, headers: Mapping[str, str], body: bytes) -> int:
        response = await self._http.post(
            url, headers={**headers, "content-type": "application/json"}, content=body
        )
        return response.status_code

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._http.aclose()


async def pay(provider: SandboxProvider, out_trade_no: str, payer_id: str) -> SandboxPayment | None:
    """The wallet's Pay button: the payment paid; None when it was paid, closed or expired."""
    async with write_transaction():
        paid = await provider.pay(out_trade_no, payer_id)
        if paid is not None:
            payload = {"out_trade_no": out_trade_no}
            await emit(NOTIFY_EVENT, out_trade_no, payload, available_at=provider.clock())
    if paid is not None:
        notify()
    return paid


async def deliver_notification(
    provider: SandboxProvider, sender: Sender, out_trade_no: str
) -> None:
    """Sign and post the paid notification; raises when the server does not take it."""
    row = await find_payment(out_trade_no)
    if row is None:
        raise NotFound(f"the sandbox has no payment {out_trade_no}")
    body = json.dumps(
        {
            "id": str(uuid.uuid4()),
            "event_type": "TRANSACTION.SUCCESS",
            "out_trade_no": row.out_trade_no,
            "transaction_id": row.transaction_id,
            "amount_fen": row.amount_fen,
        }
    ).encode()
    headers = signed_headers(provider.signing_key, body, provider.clock())
    status = await sender(provider.public_url + NOTIFY_PATH, headers, body)
    if not 200 <= status < 300:
        raise Unavailable(f"the notify endpoint answered {status}", code="notify_refused")


_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>沙箱钱包 Sandbox wallet</title></head>
<body style="font-family:sans-serif;max-width:24rem;margin:2rem auto;text-align:center">
<h1>沙箱钱包 Sandbox wallet</h1>
<p>{description}</p>
<p style="font-size:2rem">¥{amount}</p>
{action}
</body></html>
"""

_PAY_FORM = """<form method="post">
<input type="hidden" name="payer" value="sandbox-shopper">
<button type="submit" style="font-size:1.5rem;padding:.5rem 2rem">支付 Pay</button>
</form>"""

_STATUS_TEXT = {
    "paid": "已支付 Paid",
    "closed": "已关闭 Closed",
    "reversed": "已撤销 Reversed",
    "failed": "支付失败 Failed",
}


async def wallet_page(out_trade_no: str) -> str:
    """The wallet's HTML for a payment: a Pay button while it waits for money."""
    row = await find_payment(out_trade_no)
    if row is None:
        raise NotFound(f"the sandbox has no payment {out_trade_no}", code="payment_not_found")
    return render_wallet(row)


def render_wallet(row: SandboxPayment) -> str:
    """The wallet's HTML for the payment `row`."""
    action = _PAY_FORM if row.status == "pending" else f"<p>{_STATUS_TEXT[row.status]}</p>"
    return _PAGE.format(
        description=html.escape(row.description), amount=format_yuan(row.amount_fen), action=action
    )
