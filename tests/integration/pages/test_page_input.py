"""What a page's form or address may carry: refused before the database (PostgreSQL gave 500s)."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from pos.orders.tables import Order
from pos.orders.tokens import counter_qr_token
from pos.payments.tables import Payment
from tests.helpers.shop import SECRET, Shop, open_shop
from tests.helpers.staff import device_headers

pytestmark = pytest.mark.anyio

PAID_AT_ONCE = "134567890123459999"  # a sandbox payment code that pays without a PIN
NOODLES = "6903120028012"  # sold in the demo's Linxia kiosk zone
TOO_LONG = "k" * 101  # the API's Idempotency-Key is at most 100 characters


async def _open_order() -> tuple[int, str, Shop]:
    shop = await open_shop()
    tea = await shop.add(price_fen=800)
    order = (await shop.order({"product_id": tea, "quantity": 1})).order
    assert order.access_token is not None
    return order.id, order.access_token, shop


# A short key is refused as the API refuses it: a retry with a guessed key hands back the order.
@pytest.mark.parametrize("key", [TOO_LONG, "k" * 15], ids=["overlong", "guessable"])
async def test_a_key_the_api_would_refuse_in_the_counter_order_form_orders_nothing(
    client: httpx.AsyncClient, key: str
) -> None:
    shop = await open_shop()
    tea = await shop.add(price_fen=800)
    token = counter_qr_token(shop.counter_id, secret=SECRET)
    form = {"t": token, "key": key, f"q{tea}": "1"}
    response = await client.post(f"/c/{shop.counter_id}/order", data=form)
    assert response.status_code == 422, response.text[:200]
    assert "页面已过期" in response.text
    assert await Order.count() == 0


async def test_an_overlong_key_in_the_pay_form_starts_no_payment(
    client: httpx.AsyncClient,
) -> None:
    order_id, token, _ = await _open_order()
    response = await client.post(f"/o/{order_id}/pay", data={"token": token, "key": TOO_LONG})
    assert response.status_code == 422, response.text[:200]
    assert await Payment.count() == 0


@pytest.mark.usefixtures("demo")
async def test_an_overlong_key_in_the_kiosk_checkout_orders_nothing(
    client: httpx.AsyncClient, kiosk_token: str
) -> None:
    await client.post("/kiosk/pair", data={"token": kiosk_token})
    cart = await client.post(
        "/kiosk/cart",
        data={"lines": "[]", "code": NOODLES, "op": "", "key": "k"},
        headers={"X-Fragment": "cart"},
    )
    found = re.search(r'name="lines" value="([^"]*)"', cart.text)
    assert found, cart.text
    lines = found[1].replace("&#34;", '"')
    response = await client.post("/kiosk/checkout", data={"lines": lines, "key": TOO_LONG})
    assert response.status_code == 422, response.text[:200]
    assert await Order.count() == 0


async def test_a_nul_in_the_counter_search_is_a_422(client: httpx.AsyncClient) -> None:
    _, _, shop = await _open_order()
    token = counter_qr_token(shop.counter_id, secret=SECRET)
    response = await client.get(f"/c/{shop.counter_id}", params={"t": token, "q": "a\x00b"})
    assert response.status_code == 422, response.text[:200]


async def test_a_nul_in_a_rating_comment_is_a_422(client: httpx.AsyncClient) -> None:
    order_id, token, shop = await _open_order()
    paid = await client.post(  # a payment code is scanned at the store, by a device
        f"/api/orders/{order_id}/payments",
        params={"token": token},
        json={"method": "code", "auth_code": PAID_AT_ONCE},
        headers={
            "Idempotency-Key": uuid.uuid4().hex,
            **await device_headers("kiosk", shop.store_id),
        },
    )
    assert paid.status_code == 201, paid.text
    form = {"token": token, "stars1": "5", "comment1": "a\x00b"}
    response = await client.post(f"/r/{order_id}/ratings", data=form)
    assert response.status_code == 422, response.text[:200]
