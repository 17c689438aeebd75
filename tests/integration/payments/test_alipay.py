"""Alipay face-to-face payments: the app configured for it, against a strict double on a socket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from litestar import Litestar

from pos.errors import Unavailable
from pos.events.outbox import dispatch_due
from pos.orders import service as orders
from pos.payments.alipay import AlipayProvider
from pos.payments.plugin import alipay_config
from pos.payments.provider import RefundResult
from pos.payments.service import cancel_order
from pos.payments.tables import Payment, Refund
from pos.settings import Settings, SettingsError, load_settings
from tests.helpers import alipay_gateway as double
from tests.helpers.clock import Clock
from tests.helpers.staff import login_as
from tests.integration.payments.conftest import (
    Bought,
    buy,
    order_page,
    order_state,
    payment_by_trade_no,
    payment_settings,
    scan,
    start,
)

pytestmark = pytest.mark.anyio

NOTIFY = "/api/payments/notify/alipay"
# Alipay payment codes: 16 to 24 digits starting 25-30; the double answers by the last four.
PAYS, PAID_BUT_SYSTEM_ERROR = "284567890123456789", "284567890123450009"
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


@pytest.fixture
async def gateway() -> AsyncIterator[double.AlipayGateway]:
    server = double.AlipayGateway()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def settings(database_url: str, gateway: double.AlipayGateway, tmp_path: Path) -> Settings:
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


async def _qr_payment(client: httpx.AsyncClient, bought: Bought) -> str:
    response = await start(client, bought, {"method": "qr"})
    assert response.status_code == 201, response.text
    payment = response.json()
    assert payment["qr_url"] == f"https://qr.alipay.com/{payment['out_trade_no']}"
    return str(payment["out_trade_no"])


async def test_a_qr_payment_is_settled_by_the_notification_of_alipay(
    client: httpx.AsyncClient, bought: Bought, gateway: double.AlipayGateway
) -> None:
    out_trade_no = await _qr_payment(client, bought)
    assert gateway.trades[out_trade_no].total_amount == "25.00"
    gateway.scan_and_pay(out_trade_no)

    response = await client.post(NOTIFY, headers=FORM, content=gateway.notification(out_trade_no))

    assert response.status_code == 200, response.text
    assert response.text == "success"  # anything else and Alipay sends it again, for a day
    assert await order_state(bought.order_id) == "paid"
    payment = await payment_by_trade_no(out_trade_no)
    assert payment.status == "paid"
    assert payment.paid_fen == bought.total_fen
    assert payment.provider_reference == gateway.trades[out_trade_no].trade_no
    assert payment.payer_hash


async def test_a_payment_in_another_currency_is_refunded_and_flagged_as_an_amount_mismatch(
    client: httpx.AsyncClient, bought: Bought, gateway: double.AlipayGateway
) -> None:
    out_trade_no = await _qr_payment(client, bought)
    gateway.scan_and_pay(out_trade_no)
    gateway.trades[out_trade_no].trans_currency = "USD"  # 25.00 dollars, not yuan

    response = await client.post(NOTIFY, headers=FORM, content=gateway.notification(out_trade_no))

    assert response.status_code == 200, response.text
    assert await order_state(bought.order_id) == "open"
    payment = await payment_by_trade_no(out_trade_no)
    assert (payment.flag, payment.paid_order) == ("amount_mismatch", False)
    refunds = await Refund.select(Refund.automatic).where(Refund.payment == payment.id)
    assert refunds == [{"automatic": True}]


async def test_a_phone_browser_pays_on_the_wap_page_and_comes_back_to_the_order(
    client: httpx.AsyncClient, bought: Bought, gateway: double.AlipayGateway, settings: Settings
) -> None:
    response = await start(client, bought, {"method": "web"})

    assert response.status_code == 201, response.text
    payment = response.json()
    out_trade_no = payment["out_trade_no"]
    assert (payment["method"], payment["qr_url"]) == ("web", None)
    assert payment["redirect_url"].startswith(f"{gateway.url}?")
    assert out_trade_no not in gateway.trades  # signed for the browser, not sent
    async with httpx.AsyncClient() as phone:  # the double checks the signature it carries
        cashier = await phone.get(payment["redirect_url"])
    assert cashier.status_code == 200, cashier.text
    assert "支付宝收银台" in cashier.text
    assert gateway.trades[out_trade_no].return_url == order_page(settings, bought)
    gateway.scan_and_pay(out_trade_no)
    notified = await client.post(NOTIFY, headers=FORM, content=gateway.notification(out_trade_no))
    assert notified.text == "success"
    assert await order_state(bought.order_id) == "paid"


async def test_the_order_page_sends_a_phone_browser_to_the_wap_page(
    client: httpx.AsyncClient, bought: Bought, gateway: double.AlipayGateway
) -> None:
    page = await client.post(f"/o/{bought.order_id}/pay", data={"token": bought.token, "key": "k1"})

    assert page.status_code == 200, page.text
    assert f'id="wallet" class="button primary" href="{gateway.url}?' in page.text


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        ("other_signer", "notification_forged"),
        ("ten_minutes_old", "notification_stale"),
        ("unsigned", "notification_unsigned"),
    ],
)
async def test_a_notification_that_does_not_check_out_changes_nothing(
    client: httpx.AsyncClient,
    bought: Bought,
    gateway: double.AlipayGateway,
    tamper: str,
    code: str,
) -> None:
    out_trade_no = await _qr_payment(client, bought)
    gateway.scan_and_pay(out_trade_no)
    key = double.new_key() if tamper == "other_signer" else None
    sent = timedelta(minutes=-10) if tamper == "ten_minutes_old" else timedelta()
    body = gateway.notification(out_trade_no, sent=sent, key=key)
    if tamper == "unsigned":
        body = body.split(b"&sign=")[0]

    response = await client.post(NOTIFY, headers=FORM, content=body)

    assert response.status_code == 400
    assert response.json()["code"] == code
    assert await order_state(bought.order_id) == "paying"


OTHER_SELLER = "2088000000000002"


@pytest.mark.parametrize(
    ("configured", "sent", "state"),
    [
        (double.SELLER_ID, double.SELLER_ID, "paid"),
        (double.SELLER_ID, OTHER_SELLER, "paying"),
        ("", OTHER_SELLER, "paid"),  # unset: the app is the merchant's own, seller_id unchecked
    ],
)
async def test_with_its_seller_id_set_a_notification_paying_another_merchant_is_forged(
    app: Litestar,
    client: httpx.AsyncClient,
    bought: Bought,
    gateway: double.AlipayGateway,
    settings: Settings,
    configured: str,
    sent: str,
    state: str,
) -> None:
    # An ISV's app serves several merchants: Alipay signs their trades' notifications alike.
    merchant = settings.model_copy(update={"alipay_seller_id": configured})
    provider = AlipayProvider(alipay_config(merchant))
    app.state["payments"] = replace(app.state["payments"], provider=provider)
    out_trade_no = await _qr_payment(client, bought)
    gateway.scan_and_pay(out_trade_no)

    response = await client.post(
        NOTIFY, headers=FORM, content=gateway.notification(out_trade_no, seller_id=sent)
    )

    assert await order_state(bought.order_id) == state
    if state == "paying":
        assert (response.status_code, response.json()["code"]) == (400, "notification_forged")
    else:
        assert (response.status_code, response.text) == (200, "success")


async def test_a_replayed_notification_is_refused_and_the_order_is_paid_once(
    client: httpx.AsyncClient, bought: Bought, gateway: double.AlipayGateway
) -> None:
    out_trade_no = await _qr_payment(client, bought)
    gateway.scan_and_pay(out_trade_no)
    body = gateway.notification(out_trade_no)
    assert (await client.post(NOTIFY, headers=FORM, content=body)).status_code == 200

    replayed = await client.post(NOTIFY, headers=FORM, content=body)

    assert replayed.json()["code"] == "notification_replayed"
    assert await order_state(bought.order_id) == "paid"


async def test_the_retry_of_a_notification_whose_query_failed_settles_the_order(
    client: httpx.AsyncClient,
    bought: Bought,
    gateway: double.AlipayGateway,
    alipay: AlipayProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out_trade_no = await _qr_payment(client, bought)
    gateway.scan_and_pay(out_trade_no)
    body = gateway.notification(out_trade_no)
    with monkeypatch.context() as outage:
        outage.setattr(alipay, "query", _gateway_down)
        first = await client.post(NOTIFY, headers=FORM, content=body)
    assert first.status_code == 503  # not "success": Alipay sends the same notify_id again

    retried = await client.post(NOTIFY, headers=FORM, content=body)

    assert (retried.status_code, retried.text) == (200, "success")
    assert await order_state(bought.order_id) == "paid"
    replayed = await client.post(NOTIFY, headers=FORM, content=body)
    assert replayed.json()["code"] == "notification_replayed"


async def _gateway_down(out_trade_no: str) -> None:
    raise Unavailable("Alipay does not answer", code="provider_unavailable")


async def test_a_code_not_scanned_yet_stays_payable_and_a_lost_notification_is_polled(
    client: httpx.AsyncClient, bought: Bought, gateway: double.AlipayGateway
) -> None:
    out_trade_no = await _qr_payment(client, bought)

    await dispatch_due(now=datetime.now(UTC) + timedelta(seconds=30))
    assert (
        await payment_by_trade_no(out_trade_no)
    ).status == "pending"  # TRADE_NOT_EXIST: not scanned
    gateway.scan_and_pay(out_trade_no)
    await dispatch_due(now=datetime.now(UTC) + timedelta(seconds=90))

    assert await order_state(bought.order_id) == "paid"


async def test_a_payment_code_pays_at_once_or_fails_with_the_reason_of_alipay(
    client: httpx.AsyncClient, bought: Bought
) -> None:
    refused = await scan(client, bought, "284567890123450003")
    assert refused.status_code == 201, refused.text
    assert refused.json()["status"] == "closed"
    assert refused.json()["failure"] == "ACQ.BUYER_BALANCE_NOT_ENOUGH 买家余额不足"
    assert await order_state(bought.order_id) == "open"
    assert (await orders.transitions(bought.order_id))[-1].reason.endswith(
        " closed: ACQ.BUYER_BALANCE_NOT_ENOUGH 买家余额不足"
    )

    paid = await scan(client, bought, PAYS)

    assert paid.json()["status"] == "paid"
    assert await order_state(bought.order_id) == "paid"


async def test_a_code_that_waits_for_the_payer_is_queried_until_paid(
    client: httpx.AsyncClient, bought: Bought, gateway: double.AlipayGateway
) -> None:
    started = await scan(client, bought, "284567890123450001")
    assert started.json()["status"] == "pending"
    gateway.scan_and_pay(started.json()["out_trade_no"])

    await dispatch_due(now=datetime.now(UTC) + timedelta(seconds=3))

    assert await order_state(bought.order_id) == "paid"


async def test_a_cancel_while_alipay_waits_for_the_payer_cancels_the_trade(
    app: Litestar,
    client: httpx.AsyncClient,
    bought: Bought,
    gateway: double.AlipayGateway,
    clock: Clock,
) -> None:
    app.state["payments"] = replace(app.state["payments"], clock=clock)
    started = await scan(client, bought, "284567890123450001")
    assert started.json()["status"] == "pending", started.text  # 10003: waiting for the payer
    trade = gateway.trades[started.json()["out_trade_no"]]
    clock.advance(20)

    await cancel_order(app.state["payments"], bought.order_id, actor="device:1")

    assert trade.status == "TRADE_CLOSED"  # alipay.trade.cancel: the payer can no longer pay it
    assert (await payment_by_trade_no(trade.out_trade_no)).status == "reversed"
    assert await order_state(bought.order_id) == "closed"


async def test_refunds_close_and_cancel_speak_the_language_of_alipay(
    client: httpx.AsyncClient,
    bought: Bought,
    gateway: double.AlipayGateway,
    alipay: AlipayProvider,
) -> None:
    out_trade_no = await _qr_payment(client, bought)
    await alipay.close(out_trade_no)  # never scanned: nothing to close at Alipay, not an error
    gateway.scan_and_pay(out_trade_no)

    partial = await alipay.refund(out_trade_no, "R1", 500, bought.total_fen)
    again = await alipay.refund(out_trade_no, "R1", 500, bought.total_fen)
    too_much = await alipay.refund(out_trade_no, "R2", bought.total_fen, bought.total_fen)

    assert (partial.status, again.status, too_much.status) == ("succeeded", "succeeded", "failed")
    assert gateway.trades[out_trade_no].refunds == {"R1": "5.00"}
    await alipay.close(out_trade_no)  # paid: ACQ.TRADE_STATUS_ERROR is an answer, not an error
    await alipay.reverse(out_trade_no)
    assert (await alipay.query(out_trade_no)).status == "closed"


async def test_a_refund_query_speaks_the_language_of_alipay(
    client: httpx.AsyncClient,
    bought: Bought,
    gateway: double.AlipayGateway,
    alipay: AlipayProvider,
) -> None:
    out_trade_no = await _qr_payment(client, bought)
    gateway.scan_and_pay(out_trade_no)
    await alipay.refund(out_trade_no, "R1", 500, bought.total_fen)

    taken = await alipay.query_refund("R1", out_trade_no)

    assert taken == RefundResult("succeeded", gateway.trades[out_trade_no].trade_no)
    # 10000 without refund_status: Alipay never took it, and says to ask again with the number.
    assert await alipay.query_refund("R-never-asked", out_trade_no) is None
    assert await alipay.query_refund("R1", "P-never-paid") is None  # ACQ.TRADE_NOT_EXIST


@pytest.mark.parametrize(
    ("swapped", "code"),
    [("app_key", "provider_refused"), ("alipay_key", "provider_answer_malformed")],
)
async def test_a_signature_that_does_not_verify_is_unavailable_not_a_decision(
    gateway: double.AlipayGateway, alipay: AlipayProvider, swapped: str, code: str
) -> None:
    setattr(gateway, swapped, double.new_key())  # a key rotated on one side only

    with pytest.raises(Unavailable) as refused:
        await alipay.query("P1")

    assert refused.value.code == code


def test_alipay_without_its_app_does_not_start_and_says_what_is_missing() -> None:
    with pytest.raises(SettingsError) as missing:
        load_settings(_env_file=None, payment_provider="alipay", alipay_appid=double.APPID)

    assert "POS_ALIPAY_PRIVATE_KEY_FILE" in str(missing.value)
    assert "POS_ALIPAY_PUBLIC_KEY_FILE" in str(missing.value)
    assert "POS_ALIPAY_APPID" not in str(missing.value)


# A busy Alipay: answers that decide nothing are asked again, never read as failures.


async def test_alipay_code_charge_answered_system_error_is_queried_not_failed(
    client: httpx.AsyncClient, bought: Bought, gateway: double.AlipayGateway
) -> None:
    started = await scan(client, bought, PAID_BUT_SYSTEM_ERROR)
    assert started.status_code == 201, started.text
    out_trade_no = started.json()["out_trade_no"]
    assert gateway.trades[out_trade_no].status == "TRADE_SUCCESS"  # the shopper has paid

    # ACQ.SYSTEM_ERROR says nothing about the charge: the kiosk waits while the trade is queried.
    assert started.json()["status"] == "pending", started.json()
    await dispatch_due(now=datetime.now(UTC) + timedelta(seconds=3))

    assert await order_state(bought.order_id) == "paid"
    assert (await payment_by_trade_no(out_trade_no)).status == "paid"


async def test_alipay_refund_answered_system_error_is_pending_until_its_query_finds_it(
    client: httpx.AsyncClient, bought: Bought, gateway: double.AlipayGateway
) -> None:
    paid = await scan(client, bought, PAYS)
    assert paid.json()["status"] == "paid", paid.text
    out_trade_no = paid.json()["out_trade_no"]
    await login_as(client, "manager", bought.shop.store_id)
    # Alipay refunds 10.00 and answers ACQ.SYSTEM_ERROR, and would again if asked again.
    gateway.refund_system_errors = 2

    response = await client.post(
        f"/api/stores/{bought.shop.store_id}/orders/{bought.order_id}/refunds",
        json={"amount_fen": 1000, "reason": "one pack damaged"},
        headers={"Idempotency-Key": "refund-1"},
    )

    assert gateway.trades[out_trade_no].refunds  # the money went back to the shopper
    # Not "failed": that releases the 10.00 for another refund, which would return it twice;
    # nor a 503, whose "try again" has staff refund it once more under a new key.
    assert (response.status_code, response.json()["status"]) == (201, "pending"), response.text
    await dispatch_due(now=datetime.now(UTC) + timedelta(seconds=31))  # the safety net queries
    refund = await Refund.objects().first()
    assert refund is not None
    assert refund.status == "succeeded"
    payment = await payment_by_trade_no(out_trade_no)
    assert (payment.refunded_fen, payment.flag) == (1000, "")
    assert await Payment.count() == 1


async def test_alipay_answer_that_is_not_json_is_unavailable_not_a_crash(
    gateway: double.AlipayGateway, alipay: AlipayProvider
) -> None:
    gateway.not_json = True  # e.g. a proxy's error page with status 200

    with pytest.raises(Unavailable) as unreadable:
        await alipay.query("P1")

    assert unreadable.value.code == "provider_answer_malformed"
