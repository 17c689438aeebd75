from __future__ import annotations

import anyio
import httpx
import pytest

from pos.errors import Unavailable
from pos.payments.provider import CreatedPayment, PaymentRequest
from pos.payments.sandbox import SandboxProvider
from pos.payments.tables import Payment
from tests.helpers.staff import add_store, device_headers
from tests.integration.payments.conftest import Bought, order_state, scan, start

pytestmark = pytest.mark.anyio


async def test_qr_payment_answers_the_wallet_url(
    pay_client: httpx.AsyncClient, bought: Bought
) -> None:
    response = await start(pay_client, bought, {"method": "qr"})
    assert response.status_code == 201, response.text
    payment = response.json()
    assert payment["status"] == "pending"
    assert payment["amount_fen"] == bought.total_fen
    assert payment["qr_url"].endswith(f"/sandbox/pay/{payment['out_trade_no']}")
    assert await order_state(bought.order_id) == "paying"


async def test_start_payment_retried_with_the_same_key_returns_the_first_answer(
    pay_client: httpx.AsyncClient, bought: Bought
) -> None:
    first = await start(pay_client, bought, {"method": "qr"}, key="pay-1")
    again = await start(pay_client, bought, {"method": "qr"}, key="pay-1")
    assert again.json() == first.json()
    assert await Payment.count() == 1


async def test_a_retry_while_the_first_start_is_at_the_provider_gets_the_qr_code(
    pay_client: httpx.AsyncClient,
    bought: Bought,
    sandbox: SandboxProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    create = sandbox.create

    async def slow_create(payment: PaymentRequest) -> CreatedPayment:
        await anyio.sleep(0.3)
        return await create(payment)

    monkeypatch.setattr(sandbox, "create", slow_create)
    answers: list[httpx.Response] = []

    async def attempt(delay: float) -> None:
        await anyio.sleep(delay)
        answers.append(await start(pay_client, bought, {"method": "qr"}, key="slow"))

    async with anyio.create_task_group() as group:
        group.start_soon(attempt, 0)
        group.start_soon(attempt, 0.1)  # the retry: the first is still at the gateway
    assert [answer.status_code for answer in answers] == [201, 201]
    assert answers[0].json()["qr_url"]
    assert answers[0].json() == answers[1].json()
    assert await Payment.count() == 1


async def test_a_retry_after_the_gateway_failed_asks_it_again(
    pay_client: httpx.AsyncClient,
    bought: Bought,
    sandbox: SandboxProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    create, calls = sandbox.create, []

    async def down_once(payment: PaymentRequest) -> CreatedPayment:
        calls.append(payment.out_trade_no)
        if len(calls) == 1:
            raise Unavailable("the gateway is away", code="provider_unavailable")
        return await create(payment)

    monkeypatch.setattr(sandbox, "create", down_once)
    first = await start(pay_client, bought, {"method": "qr"}, key="k")
    assert first.status_code == 503, first.text
    again = await start(pay_client, bought, {"method": "qr"}, key="k")
    assert again.status_code == 201, again.text
    assert again.json()["status"] == "pending"
    assert again.json()["qr_url"].endswith(f"/sandbox/pay/{calls[0]}")
    assert calls[1] == calls[0]  # the same payment, asked for again
    assert await Payment.count() == 1


async def test_start_payment_needs_the_order_token(
    pay_client: httpx.AsyncClient, bought: Bought
) -> None:
    url = f"/api/orders/{bought.order_id}/payments"
    headers = {"Idempotency-Key": "k"}
    wrong = await pay_client.post(
        url, params={"token": "x"}, json={"method": "qr"}, headers=headers
    )
    assert wrong.status_code == 403
    missing = await pay_client.post(url, json={"method": "qr"}, headers=headers)
    assert missing.status_code == 403
    assert await Payment.count() == 0


async def test_an_order_id_past_the_id_range_is_not_found(pay_client: httpx.AsyncClient) -> None:
    response = await pay_client.post(
        f"/api/orders/{2**63}/payments",
        params={"token": "x"},
        json={"method": "qr"},
        headers={"Idempotency-Key": "k"},
    )
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "order_not_found"


@pytest.mark.parametrize("key", [None, "k" * 101])
async def test_start_payment_needs_an_idempotency_key_of_at_most_100_characters(
    pay_client: httpx.AsyncClient, bought: Bought, key: str | None
) -> None:
    response = await pay_client.post(
        f"/api/orders/{bought.order_id}/payments",
        params={"token": bought.token},
        json={"method": "qr"},
        headers={"Idempotency-Key": key} if key else {},
    )
    assert response.status_code == 400
    assert await Payment.count() == 0


async def test_kiosk_of_the_store_may_start_a_payment(
    pay_client: httpx.AsyncClient, bought: Bought
) -> None:
    url = f"/api/orders/{bought.order_id}/payments"
    code = {"method": "code", "auth_code": "134567890123456789"}
    other = await device_headers("kiosk", await add_store())
    refused = await pay_client.post(url, json=code, headers={**other, "Idempotency-Key": "k1"})
    assert refused.status_code == 403
    kiosk = await device_headers("kiosk", bought.shop.store_id)
    paid = await pay_client.post(url, json=code, headers={**kiosk, "Idempotency-Key": "k2"})
    assert paid.json()["status"] == "paid"


async def test_the_order_token_alone_cannot_charge_a_payment_code(
    pay_client: httpx.AsyncClient, bought: Bought
) -> None:
    # Anyone can order with a counter's public QR code; a payment code is a bearer credential that
    # only a kiosk or counter scanner should present (DESIGN: the phone pays by QR or its page).
    response = await start(
        pay_client, bought, {"method": "code", "auth_code": "134567890123456789"}
    )
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "payment_code_needs_scanner"
    assert await order_state(bought.order_id) == "open"
    assert await Payment.count() == 0


async def test_paid_order_cannot_start_another_payment(
    pay_client: httpx.AsyncClient, bought: Bought
) -> None:
    await scan(pay_client, bought, "134567890123456789")
    response = await start(pay_client, bought, {"method": "qr"})
    assert response.status_code == 409
    assert response.json()["code"] == "order_state"


async def test_racing_retries_of_one_start_make_one_payment(
    pay_client: httpx.AsyncClient, bought: Bought
) -> None:
    answers: list[httpx.Response] = []

    async def attempt() -> None:
        answers.append(await start(pay_client, bought, {"method": "qr"}, key="race"))

    async with anyio.create_task_group() as group:
        for _ in range(4):
            group.start_soon(attempt)
    assert {answer.status_code for answer in answers} == {201}
    assert len({answer.json()["payment_id"] for answer in answers}) == 1
    assert await Payment.count() == 1
