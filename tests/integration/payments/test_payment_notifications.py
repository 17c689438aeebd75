from __future__ import annotations

from collections.abc import Mapping

import httpx
import pytest
from litestar import Litestar

from pos.events.tables import OutboxEvent
from pos.orders.service import ORDER_PAID
from pos.payments.sandbox import SandboxProvider
from pos.payments.signing import (
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
    signed_headers,
)
from pos.payments.tables import Payment, PaymentNotification, Refund, SandboxPayment
from tests.helpers.clock import Clock
from tests.integration.payments.conftest import (
    Bought,
    Sent,
    order_state,
    query_paid_without_amount,
    run_due,
    start,
)

pytestmark = pytest.mark.anyio

NOTIFY = "/api/payments/notify/sandbox"


async def _qr(client: httpx.AsyncClient, bought: Bought) -> str:
    response = await start(client, bought, {"method": "qr"})
    assert response.status_code == 201, response.text
    return str(response.json()["out_trade_no"])


async def _paid_in_wallet(client: httpx.AsyncClient, bought: Bought) -> str:
    out_trade_no = await _qr(client, bought)
    response = await client.post(f"/sandbox/pay/{out_trade_no}", data={"payer": "wx-payer-1"})
    assert response.status_code == 200, response.text
    return out_trade_no


async def _payment(out_trade_no: str) -> Payment:
    payment = await Payment.objects().get(Payment.out_trade_no == out_trade_no)
    assert payment is not None
    return payment


async def test_paying_in_the_wallet_notifies_the_server_and_pays_the_order(
    pay_client: httpx.AsyncClient, bought: Bought, clock: Clock, sent: Sent
) -> None:
    out_trade_no = await _qr(pay_client, bought)
    page = await pay_client.get(f"/sandbox/pay/{out_trade_no}")
    assert "¥25.00" in page.text
    assert "<form" in page.text
    await pay_client.post(f"/sandbox/pay/{out_trade_no}", data={"payer": "wx-payer-1"})
    await run_due(clock)
    assert sent.statuses == [200]
    assert await order_state(bought.order_id) == "paid"
    payment = await _payment(out_trade_no)
    assert payment.status == "paid"
    assert payment.payer_hash is not None
    assert "wx-payer-1" not in payment.payer_hash
    notes = await PaymentNotification.select().where(
        PaymentNotification.out_trade_no == out_trade_no
    )
    assert [(n["verified"], n["outcome"]) for n in notes] == [(True, "paid")]
    assert "已支付" in (await pay_client.get(f"/sandbox/pay/{out_trade_no}")).text


def _forge(headers: dict[str, str], body: bytes, how: str) -> tuple[dict[str, str], bytes]:
    if how == "unsigned":
        return {k: v for k, v in headers.items() if k != SIGNATURE_HEADER}, body
    if how == "forged":
        return headers, body.replace(b"TRANSACTION", b"TRANSACTIOM")
    return {**headers, SIGNATURE_HEADER: "AAAA" + headers[SIGNATURE_HEADER][4:]}, body


@pytest.mark.parametrize("how", ["unsigned", "forged", "bad_signature"])
async def test_unsigned_or_forged_notification_is_refused_and_recorded(
    pay_client: httpx.AsyncClient,
    bought: Bought,
    clock: Clock,
    sent: Sent,
    sandbox: SandboxProvider,
    how: str,
) -> None:
    out_trade_no = await _qr(pay_client, bought)
    await sandbox.pay(out_trade_no, "wx-payer-1")  # paid, but the genuine notification is lost
    body = b'{"event_type": "TRANSACTION.SUCCESS", "out_trade_no": "%s"}' % out_trade_no.encode()
    headers, body = _forge(signed_headers(sandbox.signing_key, body, clock()), body, how)
    response = await pay_client.post(NOTIFY, headers=headers, content=body)
    assert response.status_code == 400
    expected = "notification_unsigned" if how == "unsigned" else "notification_forged"
    assert response.json()["code"] == expected
    assert (await _payment(out_trade_no)).status == "pending"
    assert await order_state(bought.order_id) == "paying"
    note = await PaymentNotification.objects().first()
    assert note is not None
    assert (note.verified, note.outcome, note.nonce) == (False, expected, None)
    assert note.body == body.decode()


async def test_a_signature_that_is_not_ascii_is_refused_as_forged(
    pay_client: httpx.AsyncClient, bought: Bought, clock: Clock, sandbox: SandboxProvider
) -> None:
    out_trade_no = await _qr(pay_client, bought)
    body = b'{"event_type": "TRANSACTION.SUCCESS", "out_trade_no": "%s"}' % out_trade_no.encode()
    headers = {
        name: value.encode()
        for name, value in signed_headers(sandbox.signing_key, body, clock()).items()
    }
    headers[SIGNATURE_HEADER] = b"\xe9" * 64  # anyone may post here: a 400, never a 500
    response = await pay_client.post(NOTIFY, headers=headers, content=body)
    assert (response.status_code, response.json()["code"]) == (400, "notification_forged")


async def test_a_notification_with_a_nul_byte_is_refused_and_recorded(
    pay_client: httpx.AsyncClient,
) -> None:
    body = b'{"out_trade_no": "P1\x00"}'  # PostgreSQL text holds no NUL: a 400, never a 500
    response = await pay_client.post(NOTIFY, content=body, headers={SIGNATURE_HEADER: "x"})
    assert (response.status_code, response.json()["code"]) == (400, "notification_unsigned")
    note = await PaymentNotification.objects().first()
    assert note is not None
    assert note.body == '{"out_trade_no": "P1\ufffd"}'


@pytest.mark.parametrize("overlong", ["nonce", "out_trade_no"])
async def test_a_signed_notification_with_an_overlong_field_is_refused_and_recorded(
    pay_client: httpx.AsyncClient,
    bought: Bought,
    clock: Clock,
    sandbox: SandboxProvider,
    overlong: str,
) -> None:
    # Signed with the sandbox's public demo key: PostgreSQL's columns gave a 500.
    out_trade_no = "P" * 33 if overlong == "out_trade_no" else await _qr(pay_client, bought)
    body = b'{"out_trade_no": "%s"}' % out_trade_no.encode()
    headers = signed_headers(sandbox.signing_key, body, clock())
    if overlong == "nonce":
        headers[NONCE_HEADER] = "n" * 65
        timestamp = headers[TIMESTAMP_HEADER]
        headers[SIGNATURE_HEADER] = sign(sandbox.signing_key, timestamp, "n" * 65, body)
    response = await pay_client.post(NOTIFY, headers=headers, content=body)
    assert (response.status_code, response.json()["code"]) == (400, "notification_malformed")
    note = await PaymentNotification.objects().first()
    assert note is not None
    assert (note.verified, note.outcome) == (False, "notification_malformed")


async def test_stale_notification_is_refused(
    pay_client: httpx.AsyncClient, bought: Bought, clock: Clock, sandbox: SandboxProvider
) -> None:
    out_trade_no = await _qr(pay_client, bought)
    await sandbox.pay(out_trade_no, "wx-payer-1")
    body = b'{"out_trade_no": "%s"}' % out_trade_no.encode()
    headers = signed_headers(sandbox.signing_key, body, clock())
    clock.advance(6 * 60)
    response = await pay_client.post(NOTIFY, headers=headers, content=body)
    assert response.status_code == 400
    assert response.json()["code"] == "notification_stale"
    assert (await _payment(out_trade_no)).status == "pending"


async def test_replayed_notification_is_refused_and_recorded(
    pay_client: httpx.AsyncClient, bought: Bought, clock: Clock, sent: Sent
) -> None:
    await _paid_in_wallet(pay_client, bought)
    await run_due(clock)
    headers, body = sent.posts[0]
    response = await pay_client.post(NOTIFY, headers=dict(headers), content=body)
    assert response.status_code == 400
    assert response.json()["code"] == "notification_replayed"
    outcomes = await PaymentNotification.select(PaymentNotification.outcome).order_by(
        PaymentNotification.id
    )
    assert [row["outcome"] for row in outcomes] == ["paid", "notification_replayed"]


async def test_second_notification_changes_nothing(
    pay_client: httpx.AsyncClient, bought: Bought, clock: Clock, sandbox: SandboxProvider
) -> None:
    out_trade_no = await _paid_in_wallet(pay_client, bought)
    await run_due(clock)
    body = b'{"event_type": "TRANSACTION.SUCCESS", "out_trade_no": "%s"}' % out_trade_no.encode()
    again = await pay_client.post(
        NOTIFY, headers=signed_headers(sandbox.signing_key, body, clock()), content=body
    )
    assert again.status_code == 200
    assert again.json() == {"code": "SUCCESS", "message": ""}
    assert await order_state(bought.order_id) == "paid"
    assert await OutboxEvent.count().where(OutboxEvent.kind == ORDER_PAID) == 1
    last = await PaymentNotification.objects().order_by(PaymentNotification.id, ascending=False)
    assert last[0].outcome == "duplicate"


async def test_amount_mismatch_is_refused_flagged_and_refunded(
    pay_client: httpx.AsyncClient, bought: Bought, clock: Clock
) -> None:
    out_trade_no = await _qr(pay_client, bought)
    # The gateway reports another amount than we asked for (tampering, or a bug on either side).
    await SandboxPayment.update({SandboxPayment.amount_fen: 1}).where(
        SandboxPayment.out_trade_no == out_trade_no
    )
    await pay_client.post(f"/sandbox/pay/{out_trade_no}", data={"payer": "wx-payer-1"})
    await run_due(clock)
    assert await order_state(bought.order_id) == "open"
    payment = await _payment(out_trade_no)
    assert (payment.flag, payment.paid_fen, payment.status) == ("amount_mismatch", 1, "refunded")
    refund = await Refund.objects().get(Refund.payment == payment.id)
    assert refund is not None
    assert (refund.automatic, refund.amount_fen, refund.status) == (True, 1, "succeeded")


async def test_a_paid_answer_without_its_amount_settles_nothing_and_is_notified_again(
    pay_client: httpx.AsyncClient,
    bought: Bought,
    clock: Clock,
    sent: Sent,
    sandbox: SandboxProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    query_paid_without_amount(sandbox, monkeypatch)
    out_trade_no = await _paid_in_wallet(pay_client, bought)
    await run_due(clock)
    assert sent.statuses == [503]  # an error the gateway sends the notification again for
    payment = await _payment(out_trade_no)
    assert (payment.status, payment.paid_fen, payment.flag) == ("pending", None, "")
    assert await order_state(bought.order_id) == "paying"
    assert await Refund.count() == 0
    monkeypatch.undo()
    clock.advance(10)  # past the outbox's first retry delay
    await run_due(clock)
    assert sent.statuses == [503, 200]
    assert await order_state(bought.order_id) == "paid"
    assert await Refund.count() == 0


async def test_notification_for_another_provider_is_not_found(
    pay_client: httpx.AsyncClient,
) -> None:
    response = await pay_client.post("/api/payments/notify/wechat", content=b"{}")
    assert response.status_code == 404
    assert response.json()["code"] == "unknown_provider"


async def test_notification_the_server_did_not_take_is_sent_again_signed_anew(
    app: Litestar, pay_client: httpx.AsyncClient, bought: Bought, clock: Clock, sent: Sent
) -> None:
    deliver, headers_sent = app.state["payment_sender"], []

    async def down_once(url: str, headers: Mapping[str, str], body: bytes) -> int:
        headers_sent.append(headers)
        return 503 if len(headers_sent) == 1 else int(await deliver(url, headers, body))

    app.state["payment_sender"] = down_once
    out_trade_no = await _qr(pay_client, bought)
    await pay_client.post(f"/sandbox/pay/{out_trade_no}", data={"payer": "wx-payer-1"})
    await run_due(clock)
    assert await order_state(bought.order_id) == "paying"
    clock.advance(10)  # past the outbox's first retry delay
    await run_due(clock)
    assert sent.statuses == [200]
    assert len(headers_sent) == 2
    assert headers_sent[0][NONCE_HEADER] != headers_sent[1][NONCE_HEADER]
    assert await order_state(bought.order_id) == "paid"
