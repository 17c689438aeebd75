"""Alipay under load: answers that decide nothing are asked again, never read as failures.

Against the strict Alipay double on a socket, taught the answers Alipay gives under load: a
`40004 ACQ.SYSTEM_ERROR` (Alipay's "system error: query the trade / call again with the same
parameters", which says nothing about the outcome) and a body that is not JSON.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from litestar import Litestar

from pos.errors import Unavailable
from pos.events.outbox import dispatch_due
from pos.payments.alipay import AlipayProvider
from pos.payments.tables import Payment, Refund
from pos.settings import Settings
from tests.helpers import alipay_gateway as double
from tests.helpers.staff import login_as
from tests.integration.payments.conftest import (
    Bought,
    buy,
    order_state,
    payment_by_trade_no,
    payment_settings,
    start,
)

pytestmark = pytest.mark.anyio

# Alipay payment codes: 16 to 24 digits starting 25-30. The double pays any code not ending in
# 0001 or 0003; this one pays too, but the answer to the charge is lost in a system error.
PAID_BUT_SYSTEM_ERROR = "284567890123450009"
PAYS = "284567890123456789"


class BusyAlipay(double.AlipayGateway):
    """The Alipay double, with the answers Alipay gives when it is busy or behind a proxy."""

    def __init__(self) -> None:
        super().__init__()
        self.refund_system_errors = 0  # refunds done, answered ACQ.SYSTEM_ERROR nonetheless
        self.not_json = False  # a proxy's page instead of Alipay's answer

    def _system_error(self, method: str) -> web.Response:
        return self._failed(method, "ACQ.SYSTEM_ERROR", "系统错误")

    async def _gateway(self, request: web.Request) -> web.Response:
        if self.not_json:
            return web.Response(
                text="<html><h1>502 Bad Gateway</h1></html>", content_type="text/html"
            )
        return await super()._gateway(request)

    def _pay(self, method: str, biz: dict[str, Any], params: dict[str, str]) -> web.Response:
        answer = super()._pay(method, biz, params)
        if biz["auth_code"] == PAID_BUT_SYSTEM_ERROR:
            return self._system_error(method)  # the payer's money moved all the same
        return answer

    def _refund(self, method: str, biz: dict[str, Any], params: dict[str, str]) -> web.Response:
        answer = super()._refund(method, biz, params)
        if self.refund_system_errors:
            self.refund_system_errors -= 1
            return self._system_error(method)
        return answer


@pytest.fixture
async def gateway() -> AsyncIterator[BusyAlipay]:
    server = BusyAlipay()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def settings(database_url: str, gateway: BusyAlipay, tmp_path: Path) -> Settings:
    private_key, public_key = gateway.write_keys(tmp_path)
    return payment_settings(
        database_url,
        payment_provider="alipay",
        alipay_appid=double.APPID,
        alipay_private_key_file=private_key,
        alipay_public_key_file=public_key,
        alipay_gateway=gateway.url,
    )


@pytest.fixture
def alipay(app: Litestar) -> AlipayProvider:
    provider = app.state["payments"].provider
    assert isinstance(provider, AlipayProvider)
    return provider


@pytest.fixture
async def bought(app: Litestar, settings: Settings) -> Bought:
    return await buy(settings)


async def test_alipay_code_charge_answered_system_error_is_queried_not_failed(
    client: httpx.AsyncClient, bought: Bought, gateway: BusyAlipay
) -> None:
    started = await start(client, bought, {"method": "code", "auth_code": PAID_BUT_SYSTEM_ERROR})
    assert started.status_code == 201, started.text
    out_trade_no = started.json()["out_trade_no"]
    assert gateway.trades[out_trade_no].status == "TRADE_SUCCESS"  # the shopper has paid

    # ACQ.SYSTEM_ERROR says nothing about the charge: the kiosk waits while the trade is queried.
    assert started.json()["status"] == "pending", started.json()
    await dispatch_due(now=datetime.now(UTC) + timedelta(seconds=3))

    assert await order_state(bought.order_id) == "paid"
    assert (await payment_by_trade_no(out_trade_no)).status == "paid"


async def test_alipay_refund_answered_system_error_is_asked_again_not_failed(
    client: httpx.AsyncClient, bought: Bought, gateway: BusyAlipay
) -> None:
    paid = await start(client, bought, {"method": "code", "auth_code": PAYS})
    assert paid.json()["status"] == "paid", paid.text
    out_trade_no = paid.json()["out_trade_no"]
    await login_as(client, "manager", bought.shop.store_id)
    gateway.refund_system_errors = 1  # Alipay refunds 10.00 and answers ACQ.SYSTEM_ERROR

    response = await client.post(
        f"/api/stores/{bought.shop.store_id}/orders/{bought.order_id}/refunds",
        json={"amount_fen": 1000, "reason": "one pack damaged"},
        headers={"Idempotency-Key": "refund-1"},
    )

    assert gateway.trades[out_trade_no].refunds  # the money went back to the shopper
    # Not "failed": that releases the 10.00 for another refund, which would return it twice.
    assert response.json().get("status") != "failed", response.text
    await dispatch_due(now=datetime.now(UTC) + timedelta(seconds=31))  # the safety net asks again
    refund = await Refund.objects().first()
    assert refund is not None
    assert refund.status == "succeeded"
    payment = await payment_by_trade_no(out_trade_no)
    assert (payment.refunded_fen, payment.flag) == (1000, "")
    assert await Payment.count() == 1


async def test_alipay_answer_that_is_not_json_is_unavailable_not_a_crash(
    gateway: BusyAlipay, alipay: AlipayProvider
) -> None:
    gateway.not_json = True  # e.g. a proxy's error page with status 200

    with pytest.raises(Unavailable) as unreadable:
        await alipay.query("P1")

    assert unreadable.value.code == "provider_answer_malformed"
