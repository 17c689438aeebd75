"""WeChat Pay API v3: the app configured for it, against a strict gateway double on a socket."""

from __future__ import annotations

import base64
import html
import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from litestar import Litestar

from pos.errors import Unavailable
from pos.events.outbox import dispatch_due
from pos.orders import service as orders
from pos.payments.plugin import wechat_config
from pos.payments.provider import RefundResult
from pos.payments.service import cancel_order
from pos.payments.tables import Payment, PaymentNotification, Refund
from pos.payments.wechat import WeChatPayProvider
from pos.payments.wechat_oauth import WeChatOAuth
from pos.settings import Settings, SettingsError, load_settings
from pos.testing import free_port
from tests.helpers import wechat_gateway as double
from tests.helpers.clock import Clock
from tests.helpers.staff import device_headers, login_as
from tests.integration.payments.conftest import (
    Bought,
    buy,
    order_page,
    order_state,
    own_secrets,
    payment_by_trade_no,
    payment_settings,
    run_due,
    scan,
    start,
)

pytestmark = pytest.mark.anyio

NOTIFY = "/api/payments/notify/wechat"
IN_WECHAT = "Mozilla/5.0 (iPhone) AppleWebKit/605.1.15 MicroMessenger/8.0.50 NetType/WIFI"


@pytest.fixture
async def gateway() -> AsyncIterator[double.WeChatGateway]:
    server = double.WeChatGateway()
    await server.start()
    yield server
    await server.stop()


def _account(gateway: double.WeChatGateway, folder: Path) -> dict[str, object]:
    private_key, public_key = gateway.write_keys(folder)
    return {
        "payment_provider": "wechat",
        "wechat_mchid": double.MCHID,
        "wechat_appid": double.APPID,
        "wechat_cert_serial_no": double.SERIAL_NO,
        "wechat_private_key_file": private_key,
        "wechat_apiv3_key": gateway.apiv3_key,
        "wechat_public_key_file": public_key,
        "wechat_public_key_id": double.PUBLIC_KEY_ID,
        "wechat_gateway": gateway.url,
        **own_secrets(),
    }


@pytest.fixture
def settings(database_url: str, gateway: double.WeChatGateway, tmp_path: Path) -> Settings:
    return payment_settings(database_url, **_account(gateway, tmp_path))


@pytest.fixture
def wechat(app: Litestar) -> WeChatPayProvider:
    provider = app.state["payments"].provider
    assert isinstance(provider, WeChatPayProvider)
    return provider


@pytest.fixture
async def bought(app: Litestar, settings: Settings) -> Bought:
    return await buy(settings)


async def _qr_payment(client: httpx.AsyncClient, bought: Bought) -> str:
    response = await start(client, bought, {"method": "qr"})
    assert response.status_code == 201, response.text
    payment = response.json()
    assert payment["qr_url"] == f"weixin://wxpay/bizpayurl?pr={payment['out_trade_no']}"
    return str(payment["out_trade_no"])


async def test_a_qr_payment_is_settled_by_the_notification_of_wechat(
    client: httpx.AsyncClient, bought: Bought, gateway: double.WeChatGateway
) -> None:
    out_trade_no = await _qr_payment(client, bought)
    assert gateway.trades[out_trade_no].total_fen == bought.total_fen
    gateway.pay(out_trade_no, openid="o-alice")
    headers, body = gateway.notification(out_trade_no)

    response = await client.post(NOTIFY, headers=headers, content=body)

    assert response.status_code == 200, response.text
    assert response.json()["code"] == "SUCCESS"
    assert await order_state(bought.order_id) == "paid"
    payment = await payment_by_trade_no(out_trade_no)
    assert payment.status == "paid"
    assert payment.paid_fen == bought.total_fen
    assert payment.provider_reference == gateway.trades[out_trade_no].transaction_id
    assert payment.payer_hash  # the openid, hashed: never stored as it is
    assert gateway.refused == []


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        ("other_signer", "notification_forged"),
        ("other_apiv3_key", "notification_forged"),
        ("ten_minutes_old", "notification_stale"),
        ("unsigned", "notification_unsigned"),
    ],
)
async def test_a_notification_that_does_not_check_out_changes_nothing(
    client: httpx.AsyncClient,
    bought: Bought,
    gateway: double.WeChatGateway,
    tamper: str,
    code: str,
) -> None:
    out_trade_no = await _qr_payment(client, bought)
    gateway.pay(out_trade_no)
    if tamper == "other_signer":
        gateway.platform_key = double._new_key()
    at = time.time() - 600 if tamper == "ten_minutes_old" else None
    key = "k" * 32 if tamper == "other_apiv3_key" else None
    headers, body = gateway.notification(out_trade_no, at=at, key=key)
    if tamper == "unsigned":
        headers.pop("Wechatpay-Signature")

    response = await client.post(NOTIFY, headers=headers, content=body)

    assert response.status_code == 400
    assert response.json()["code"] == code
    assert await order_state(bought.order_id) == "paying"
    assert (await payment_by_trade_no(out_trade_no)).status == "pending"


@pytest.mark.parametrize(
    "whose", [{"mchid": "1900000999"}, {"appid": "wx0000000000000000"}], ids=["mchid", "appid"]
)
async def test_a_transaction_of_another_merchant_or_app_is_refused_and_never_settled(
    client: httpx.AsyncClient,
    bought: Bought,
    gateway: double.WeChatGateway,
    whose: dict[str, str],
) -> None:
    out_trade_no = await _qr_payment(client, bought)
    gateway.pay(out_trade_no)
    trade = replace(gateway.trades[out_trade_no], **whose)
    gateway.trades[out_trade_no] = trade
    headers, body = gateway.notification(out_trade_no)

    response = await client.post(NOTIFY, headers=headers, content=body)
    await dispatch_due(now=datetime.now(UTC) + timedelta(seconds=30))  # its poll, answered alike

    assert response.status_code == 400
    assert response.json()["code"] == "notification_forged"
    recorded = await PaymentNotification.select(PaymentNotification.outcome)
    assert recorded == [{"outcome": "notification_forged"}]
    assert await order_state(bought.order_id) == "paying"
    assert (await payment_by_trade_no(out_trade_no)).status == "pending"


async def test_a_payment_in_another_currency_is_refunded_and_flagged_as_an_amount_mismatch(
    client: httpx.AsyncClient, bought: Bought, gateway: double.WeChatGateway
) -> None:
    out_trade_no = await _qr_payment(client, bought)
    gateway.pay(out_trade_no)
    gateway.trades[out_trade_no].currency = "USD"  # the same number, read as fen: 25.00 dollars
    headers, body = gateway.notification(out_trade_no)

    response = await client.post(NOTIFY, headers=headers, content=body)

    assert response.status_code == 200, response.text
    assert await order_state(bought.order_id) == "open"
    payment = await payment_by_trade_no(out_trade_no)
    assert (payment.flag, payment.paid_order) == ("amount_mismatch", False)
    refunds = await Refund.select(Refund.automatic).where(Refund.payment == payment.id)
    assert refunds == [{"automatic": True}]


async def test_a_replayed_notification_is_refused_and_the_order_is_paid_once(
    client: httpx.AsyncClient, bought: Bought, gateway: double.WeChatGateway
) -> None:
    out_trade_no = await _qr_payment(client, bought)
    gateway.pay(out_trade_no)
    headers, body = gateway.notification(out_trade_no)
    assert (await client.post(NOTIFY, headers=headers, content=body)).status_code == 200

    replayed = await client.post(NOTIFY, headers=headers, content=body)

    assert replayed.status_code == 400
    assert replayed.json()["code"] == "notification_replayed"
    assert await order_state(bought.order_id) == "paid"


async def test_a_lost_notification_is_made_up_for_by_the_poll(
    client: httpx.AsyncClient, bought: Bought, gateway: double.WeChatGateway
) -> None:
    out_trade_no = await _qr_payment(client, bought)
    gateway.pay(out_trade_no)

    await dispatch_due(now=datetime.now(UTC) + timedelta(seconds=30))

    assert await order_state(bought.order_id) == "paid"


async def test_a_payment_code_pays_at_once_or_fails_with_the_reason_of_wechat(
    client: httpx.AsyncClient, bought: Bought, settings: Settings
) -> None:
    refused = await scan(client, bought, "134567890123450003")
    assert refused.status_code == 201, refused.text
    assert refused.json()["status"] == "closed"
    # WeChat's code and words, for the kiosk to show and the order's history to keep.
    assert refused.json()["failure"] == "NOTENOUGH 用户余额不足"
    assert await order_state(bought.order_id) == "open"
    assert (await orders.transitions(bought.order_id))[-1].reason.endswith(
        " closed: NOTENOUGH 用户余额不足"
    )

    paid = await scan(client, bought, "134567890123456789")

    assert paid.json()["status"] == "paid"
    assert await order_state(bought.order_id) == "paid"


async def test_a_code_that_waits_for_the_pin_is_queried_until_paid(
    client: httpx.AsyncClient, bought: Bought, gateway: double.WeChatGateway
) -> None:
    started = await scan(client, bought, "134567890123450001")
    assert started.json()["status"] == "pending"
    gateway.pay(started.json()["out_trade_no"])

    await dispatch_due(now=datetime.now(UTC) + timedelta(seconds=3))

    assert await order_state(bought.order_id) == "paid"


async def test_refunds_close_and_query_speak_the_language_of_wechat(
    client: httpx.AsyncClient,
    bought: Bought,
    gateway: double.WeChatGateway,
    wechat: WeChatPayProvider,
) -> None:
    out_trade_no = await _qr_payment(client, bought)
    gateway.pay(out_trade_no)

    partial = await wechat.refund(out_trade_no, "R1", 500, bought.total_fen)
    again = await wechat.refund(out_trade_no, "R1", 500, bought.total_fen)
    too_much = await wechat.refund(out_trade_no, "R2", bought.total_fen, bought.total_fen)

    assert partial.status == "succeeded"
    assert again.provider_reference == partial.provider_reference
    assert too_much.status == "failed"
    assert (await wechat.query(out_trade_no)).status == "paid"  # refunded in part, still a sale
    await wechat.close(out_trade_no)  # ORDERPAID: an answer, not an error
    assert (await wechat.query("P-never-opened")).status == "pending"  # giving up decides


async def test_a_refund_stranded_on_its_way_to_the_payer_is_refunded_and_flagged_for_staff(
    client: httpx.AsyncClient, bought: Bought, gateway: double.WeChatGateway
) -> None:
    paid = await scan(client, bought, "134567890123456789")
    assert paid.json()["status"] == "paid", paid.text
    out_trade_no = paid.json()["out_trade_no"]
    await login_as(client, "manager", bought.shop.store_id)
    gateway.refund_status = "ABNORMAL"  # the payer's card was closed since
    refunds = f"/api/stores/{bought.shop.store_id}/orders/{bought.order_id}/refunds"

    stranded = await client.post(
        refunds, json={"amount_fen": 500, "reason": "dented"}, headers={"Idempotency-Key": "r1"}
    )

    assert stranded.json()["status"] == "succeeded", stranded.text
    assert (await payment_by_trade_no(out_trade_no)).refunded_fen == 500
    refund = await Refund.objects().get(Refund.id == stranded.json()["refund_id"])
    assert refund is not None
    assert refund.flag == "refund_stranded"
    # The money left the store: refunding it again here would pay the payer twice.
    rest = bought.total_fen - 500
    again = await client.post(
        refunds, json={"amount_fen": rest + 1, "reason": "again"}, headers={"Idempotency-Key": "r2"}
    )
    assert again.status_code == 409, again.text


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("SUCCESS", RefundResult("succeeded")),
        ("ABNORMAL", RefundResult("succeeded", stranded=True)),
        ("CLOSED", RefundResult("failed")),
    ],
)
async def test_a_refund_query_speaks_the_language_of_wechat(
    client: httpx.AsyncClient,
    bought: Bought,
    gateway: double.WeChatGateway,
    wechat: WeChatPayProvider,
    status: str,
    expected: RefundResult,
) -> None:
    out_trade_no = await _qr_payment(client, bought)
    gateway.pay(out_trade_no)
    gateway.refund_status = "PROCESSING"
    asked = await wechat.refund(out_trade_no, "R1", 500, bought.total_fen)
    processing = await wechat.query_refund("R1", out_trade_no)
    gateway.finish_refund("R1", status)

    ended = await wechat.query_refund("R1", out_trade_no)

    refund_id = gateway.refunds["R1"]["refund_id"]
    assert asked == processing == RefundResult("processing", refund_id)
    assert ended == replace(expected, provider_reference=refund_id)
    assert await wechat.query_refund("R-never-asked", out_trade_no) is None  # RESOURCE_NOT_EXISTS
    assert gateway.refund_queries == ["R1", "R1", "R-never-asked"]


@pytest.mark.parametrize(
    ("status", "code"), [(429, "FREQUENCY_LIMITED"), (500, "SYSTEM_ERROR"), (400, "PARAM_ERROR")]
)
async def test_a_refund_query_wechat_does_not_answer_is_unavailable_not_a_decision(
    wechat: WeChatPayProvider, monkeypatch: pytest.MonkeyPatch, status: int, code: str
) -> None:
    async def busy(**_: object) -> tuple[int, str]:
        return status, json.dumps({"code": code, "message": "稍后再试"})

    monkeypatch.setattr(wechat._pay, "query_refund", busy)

    with pytest.raises(Unavailable):
        await wechat.query_refund("R1", "P1")


async def test_a_refund_wechat_is_processing_is_finished_by_querying_it_not_by_asking_again(
    app: Litestar,
    client: httpx.AsyncClient,
    bought: Bought,
    gateway: double.WeChatGateway,
    clock: Clock,
) -> None:
    app.state["payments"] = replace(app.state["payments"], clock=clock)
    paid = await scan(client, bought, "134567890123456789")
    assert paid.json()["status"] == "paid", paid.text
    await login_as(client, "manager", bought.shop.store_id)
    gateway.refund_status = "PROCESSING"  # WeChat's usual first answer
    refunded = await client.post(
        f"/api/stores/{bought.shop.store_id}/orders/{bought.order_id}/refunds",
        json={"amount_fen": 1250, "reason": "returned"},
        headers={"Idempotency-Key": "r1"},
    )
    assert refunded.json()["status"] == "pending", refunded.text
    out_refund_no = refunded.json()["out_refund_no"]

    await _let_pass(clock, seconds=61)  # the safety net's query and the first check
    gateway.finish_refund(out_refund_no)
    await _let_pass(clock, seconds=120)

    refund = await Refund.objects().get(Refund.out_refund_no == out_refund_no)
    assert refund is not None
    assert (refund.status, refund.provider_reference) == (
        "succeeded",
        gateway.refunds[out_refund_no]["refund_id"],
    )
    assert gateway.refund_requests == [out_refund_no]  # asked once, then queried
    assert gateway.refund_queries == [out_refund_no] * 3
    assert await order_state(bought.order_id) == "partially_refunded"


async def test_a_code_charge_that_never_reached_wechat_is_reversed_and_reopens_the_order(
    app: Litestar,
    client: httpx.AsyncClient,
    bought: Bought,
    wechat: WeChatPayProvider,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app.state["payments"] = replace(app.state["payments"], clock=clock)

    async def connect_timeout(*_: object, **__: object) -> None:
        raise Unavailable(
            "WeChat Pay did not answer: ConnectTimeout()", code="provider_unavailable"
        )

    monkeypatch.setattr(wechat, "charge_code", connect_timeout)
    started = await scan(client, bought, "134567890123456789")
    assert started.status_code == 503, started.text
    # Queried for 90 s, then reversed: WeChat answers ORDER_NOT_EXIST, there being no trade.
    await _let_pass(clock, seconds=120)

    payment = await Payment.objects().get(Payment.order == bought.order_id)
    assert payment is not None
    assert payment.status == "reversed"
    assert await order_state(bought.order_id) == "open"


async def test_a_code_charge_wechat_registers_after_the_first_query_is_still_a_sale(
    app: Litestar,
    client: httpx.AsyncClient,
    bought: Bought,
    gateway: double.WeChatGateway,
    wechat: WeChatPayProvider,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app.state["payments"] = replace(app.state["payments"], clock=clock)

    async def system_error(**_: object) -> tuple[int, str]:
        return 500, json.dumps({"code": "SYSTEM_ERROR", "message": "系统超时"})

    with monkeypatch.context() as busy:
        busy.setattr(wechat._pay, "pay", system_error)
        started = await scan(client, bought, "134567890123456789")
    assert started.json()["status"] == "pending", started.text
    out_trade_no = started.json()["out_trade_no"]
    await _let_pass(clock, seconds=2)  # the first query: ORDER_NOT_EXIST, no trade yet
    gateway.trades[out_trade_no] = double.Trade(out_trade_no, bought.total_fen)
    gateway.pay(out_trade_no)  # the charge lands; WeChat notifies nobody of a payment code

    await _let_pass(clock, seconds=120)

    assert await order_state(bought.order_id) == "paid"


async def test_a_code_payment_wechat_answers_payerror_is_reversed_as_it_asks(
    app: Litestar,
    client: httpx.AsyncClient,
    bought: Bought,
    gateway: double.WeChatGateway,
    clock: Clock,
) -> None:
    app.state["payments"] = replace(app.state["payments"], clock=clock)
    started = await scan(client, bought, "134567890123450001")
    assert started.json()["status"] == "pending", started.text
    trade = gateway.trades[started.json()["out_trade_no"]]

    def payerror_then_paid() -> dict[str, object]:
        answer = double.Trade.as_json(trade)
        answer |= {"trade_state": "PAYERROR", "trade_state_desc": "支付失败，请撤销订单"}
        del trade.as_json  # type: ignore[attr-defined]
        gateway.pay(trade.out_trade_no)  # the bank took the money after all
        return answer

    trade.as_json = payerror_then_paid  # type: ignore[method-assign]

    await _let_pass(clock, seconds=120)

    payment = await payment_by_trade_no(trade.out_trade_no)
    assert (payment.status, trade.state) == ("reversed", "REVOKED")  # the money went back
    assert await order_state(bought.order_id) == "open"
    failed = (await orders.transitions(bought.order_id))[-1]
    assert (failed.event, failed.reason) == (
        "payment_failed",
        f"wechat_code {trade.out_trade_no} reversed: PAYERROR 支付失败，请撤销订单",
    )


async def test_a_cancel_while_wechat_asks_for_the_pin_reverses_the_code_payment(
    app: Litestar,
    client: httpx.AsyncClient,
    bought: Bought,
    gateway: double.WeChatGateway,
    clock: Clock,
) -> None:
    app.state["payments"] = replace(app.state["payments"], clock=clock)
    started = await scan(client, bought, "134567890123450001")
    assert started.json()["status"] == "pending", started.text  # USERPAYING
    trade = gateway.trades[started.json()["out_trade_no"]]
    await _let_pass(clock, seconds=20)

    await cancel_order(app.state["payments"], bought.order_id, actor="device:1")

    assert trade.state == "REVOKED"  # the PIN asked for on the payer's phone pays nothing now
    assert (await payment_by_trade_no(trade.out_trade_no)).status == "reversed"
    assert await order_state(bought.order_id) == "closed"


async def test_a_code_cancelled_within_15_s_of_its_charge_is_reversed_when_wechat_allows(
    app: Litestar,
    client: httpx.AsyncClient,
    bought: Bought,
    gateway: double.WeChatGateway,
    wechat: WeChatPayProvider,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app.state["payments"] = replace(app.state["payments"], clock=clock)

    async def system_error(**_: object) -> tuple[int, str]:
        return 500, json.dumps({"code": "SYSTEM_ERROR", "message": "系统超时"})

    with monkeypatch.context() as busy:
        busy.setattr(wechat._pay, "pay", system_error)
        started = await scan(client, bought, "134567890123456789")
    out_trade_no = started.json()["out_trade_no"]
    await cancel_order(app.state["payments"], bought.order_id, actor="device:1")
    await _let_pass(clock, seconds=2)
    gateway.trades[out_trade_no] = double.Trade(out_trade_no, bought.total_fen)
    gateway.pay(out_trade_no)  # the charge lands: a reverse before it would have found no trade

    await _let_pass(clock, seconds=12)
    assert gateway.trades[out_trade_no].state == "SUCCESS"
    await _let_pass(clock, seconds=2)

    assert gateway.trades[out_trade_no].state == "REVOKED"  # WeChat returns the money
    assert (await payment_by_trade_no(out_trade_no)).status == "reversed"
    assert await order_state(bought.order_id) == "closed"
    assert gateway.refund_requests == []


async def test_a_cancel_leaves_a_code_charge_wechat_never_answered_to_its_polls(
    app: Litestar,
    client: httpx.AsyncClient,
    bought: Bought,
    gateway: double.WeChatGateway,
    wechat: WeChatPayProvider,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app.state["payments"] = replace(app.state["payments"], clock=clock)

    async def read_timeout(*_: object, **__: object) -> None:
        raise Unavailable("WeChat Pay did not answer: ReadTimeout()", code="provider_unavailable")

    monkeypatch.setattr(wechat, "charge_code", read_timeout)
    assert (await scan(client, bought, "134567890123456789")).status_code == 503
    await _let_pass(clock, seconds=20)  # ORDER_NOT_EXIST: the charge may be on its way still
    payment = await Payment.objects().get(Payment.order == bought.order_id)
    assert payment is not None

    await cancel_order(app.state["payments"], bought.order_id, actor="device:1")

    assert (await payment_by_trade_no(payment.out_trade_no)).status == "pending"  # no reverse
    gateway.trades[payment.out_trade_no] = double.Trade(payment.out_trade_no, bought.total_fen)
    gateway.pay(payment.out_trade_no)  # it lands
    await _let_pass(clock, seconds=10)
    assert len(gateway.refund_requests) == 1  # refunded: the order is closed
    assert await order_state(bought.order_id) == "closed"


async def _let_pass(clock: Clock, *, seconds: int) -> None:
    """Let `seconds` pass one by one, running the outbox events due at each."""
    for _ in range(seconds):
        clock.advance(1)
        await run_due(clock)


async def test_a_request_wechat_cannot_verify_is_unavailable_not_a_decision(
    app: Litestar, gateway: double.WeChatGateway, tmp_path: Path
) -> None:
    account = _account(gateway, tmp_path) | {"wechat_cert_serial_no": "0BADSERIAL"}
    settings = load_settings(_env_file=None, **account)

    async with WeChatPayProvider(wechat_config(settings)) as provider:
        with pytest.raises(Unavailable) as refused:
            await provider.query("P1")

    assert refused.value.code == "provider_refused"
    assert "SIGN_ERROR" in str(refused.value)


def test_wechat_without_its_account_does_not_start_and_says_what_is_missing() -> None:
    with pytest.raises(SettingsError) as missing:
        load_settings(_env_file=None, payment_provider="wechat", wechat_mchid=double.MCHID)

    assert "POS_WECHAT_APPID" in str(missing.value)
    assert "POS_WECHAT_PRIVATE_KEY_FILE" in str(missing.value)
    assert "POS_WECHAT_MCHID" not in str(missing.value)


async def test_a_phone_browser_pays_on_the_h5_page_and_comes_back_to_the_order(
    client: httpx.AsyncClient, bought: Bought, gateway: double.WeChatGateway, settings: Settings
) -> None:
    response = await start(client, bought, {"method": "web"})

    assert response.status_code == 201, response.text
    payment = response.json()
    out_trade_no = payment["out_trade_no"]
    page, back = payment["redirect_url"].split("&redirect_url=")
    assert page == f"{double.H5_PAGE}?prepay_id=wx{out_trade_no}&package=2550"
    assert unquote(back) == order_page(settings, bought)
    assert (payment["method"], payment["qr_url"]) == ("web", None)
    assert gateway.trades[out_trade_no].payer_client_ip == "127.0.0.1"
    gateway.pay(out_trade_no)
    headers, body = gateway.notification(out_trade_no)
    assert (await client.post(NOTIFY, headers=headers, content=body)).status_code == 200
    assert await order_state(bought.order_id) == "paid"


async def test_a_web_payment_without_the_shoppers_token_is_refused(
    client: httpx.AsyncClient, bought: Bought, gateway: double.WeChatGateway
) -> None:
    kiosk = await device_headers("kiosk", bought.shop.store_id)
    response = await client.post(
        f"/api/orders/{bought.order_id}/payments",
        json={"method": "web"},
        headers={"Idempotency-Key": "k1", **kiosk},
    )

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "web_payment_needs_shopper"
    assert gateway.trades == {}


async def test_the_order_page_sends_a_phone_browser_to_the_h5_page(
    client: httpx.AsyncClient, bought: Bought, gateway: double.WeChatGateway
) -> None:
    page = await client.post(f"/o/{bought.order_id}/pay", data={"token": bought.token, "key": "k1"})

    assert page.status_code == 200, page.text
    assert f'id="wallet" class="button primary" href="{double.H5_PAGE}?' in page.text
    assert 'id="pay-qr"' not in page.text


async def test_inside_wechat_the_order_page_shows_the_code_to_long_press(
    client: httpx.AsyncClient, bought: Bought, gateway: double.WeChatGateway
) -> None:
    page = await client.post(
        f"/o/{bought.order_id}/pay",
        data={"token": bought.token, "key": "k1"},
        headers={"User-Agent": IN_WECHAT},
    )

    assert page.status_code == 200, page.text
    assert 'id="pay-qr"' in page.text
    assert "<svg" in page.text
    assert 'id="wallet"' not in page.text  # WeChat has no wallet page to send the shopper to
    assert [trade.total_fen for trade in gateway.trades.values()] == [bought.total_fen]


def test_a_key_file_that_is_not_there_stops_start_up_with_its_path(tmp_path: Path) -> None:
    account = {name: "x" for name in ("wechat_mchid", "wechat_appid", "wechat_cert_serial_no")}
    (tmp_path / "pub_key.pem").write_text("-----BEGIN PUBLIC KEY-----")
    with pytest.raises(SettingsError) as missing:
        load_settings(
            _env_file=None,
            payment_provider="wechat",
            wechat_private_key_file=tmp_path / "apiclient_key.pem",
            wechat_public_key_file=tmp_path / "pub_key.pem",
            wechat_apiv3_key="k" * 32,
            wechat_public_key_id=double.PUBLIC_KEY_ID,
            **account,
        )

    assert f"POS_WECHAT_PRIVATE_KEY_FILE: no file at {tmp_path / 'apiclient_key.pem'}" in str(
        missing.value
    )


@pytest.fixture
async def sign_in(wechat: WeChatPayProvider) -> AsyncIterator[double.WeChatSignIn]:
    """WeChat's web OAuth double, and the provider set up for JSAPI with it."""
    server = double.WeChatSignIn()
    await server.start()
    wechat.oauth = WeChatOAuth(
        double.APPID,
        server.secret,
        f"{server.url}/connect/oauth2/authorize",
        f"{server.url}/sns/oauth2/access_token",
    )
    yield server
    await server.stop()


async def _back_from_sign_in(client: httpx.AsyncClient, bought: Bought) -> str:
    """Tap Pay inside WeChat and follow WeChat's sign-in: the page it sends the browser back to."""
    tapped = await client.post(
        f"/o/{bought.order_id}/pay",
        data={"token": bought.token, "key": "k1"},
        headers={"User-Agent": IN_WECHAT},
    )
    assert tapped.status_code == 303, tapped.text
    sign_in_url, _, fragment = tapped.headers["location"].partition("#")
    assert fragment == "wechat_redirect"
    async with httpx.AsyncClient() as wechat_browser:
        signed_in = await wechat_browser.get(sign_in_url)
    assert signed_in.status_code == 302, signed_in.text
    back = httpx.URL(signed_in.headers["location"])
    return f"{back.path}?{back.query.decode()}"


async def test_inside_wechat_the_shopper_is_signed_in_and_pays_by_jsapi(
    client: httpx.AsyncClient,
    bought: Bought,
    gateway: double.WeChatGateway,
    sign_in: double.WeChatSignIn,
) -> None:
    page = await client.get(
        await _back_from_sign_in(client, bought), headers={"User-Agent": IN_WECHAT}
    )

    assert page.status_code == 200, page.text
    assert 'class="lang"' not in page.text  # its address holds WeChat's one-time sign-in code
    found = re.search(r"data-jsapi='([^']*)'", page.text)
    assert found is not None, page.text
    jsapi = json.loads(html.unescape(found.group(1)))
    [trade] = gateway.trades.values()
    assert trade.prepaid_for == sign_in.openid
    assert jsapi["package"] == f"prepay_id=wx{trade.out_trade_no}"
    assert (jsapi["appId"], jsapi["signType"]) == (double.APPID, "RSA")
    signed = "".join(f"{jsapi[name]}\n" for name in ("appId", "timeStamp", "nonceStr", "package"))
    gateway.merchant_key.public_key().verify(  # as WeChat checks it before showing its sheet
        base64.b64decode(jsapi["paySign"]), signed.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    gateway.pay(trade.out_trade_no, openid=sign_in.openid)
    headers, body = gateway.notification(trade.out_trade_no)
    assert (await client.post(NOTIFY, headers=headers, content=body)).status_code == 200
    assert await order_state(bought.order_id) == "paid"


async def test_a_sign_in_code_used_again_opens_nothing_more(
    client: httpx.AsyncClient,
    bought: Bought,
    gateway: double.WeChatGateway,
    sign_in: double.WeChatSignIn,
) -> None:
    back = await _back_from_sign_in(client, bought)
    assert (await client.get(back)).status_code == 200

    again = await client.get(back)  # a reload: WeChat's codes work once

    assert again.status_code == 422, again.text
    assert len(gateway.trades) == 1


async def test_when_wechat_cannot_sign_the_shopper_in_no_payment_is_opened(
    client: httpx.AsyncClient,
    bought: Bought,
    wechat: WeChatPayProvider,
    gateway: double.WeChatGateway,
) -> None:
    away = f"http://127.0.0.1:{free_port()}/sns/oauth2/access_token"
    wechat.oauth = WeChatOAuth(double.APPID, "s3cret", "https://open.weixin.qq.com", away)
    back = f"/o/{bought.order_id}/wechat-pay"

    page = await client.get(back, params={"token": bought.token, "key": "k1", "code": "c"})

    assert page.status_code == 503, page.text
    assert gateway.trades == {}


def test_the_appsecret_sets_up_jsapi_through_wechat_oauth(tmp_path: Path) -> None:
    gateway = double.WeChatGateway()
    account = _account(gateway, tmp_path)
    assert wechat_config(load_settings(_env_file=None, **account)).oauth is None

    config = wechat_config(load_settings(_env_file=None, wechat_appsecret="s3cret", **account))

    assert config.oauth == WeChatOAuth(
        double.APPID,
        "s3cret",
        "https://open.weixin.qq.com/connect/oauth2/authorize",
        "https://api.weixin.qq.com/sns/oauth2/access_token",
    )
