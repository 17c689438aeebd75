from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from litestar import Litestar

from pos.app import create_app
from pos.inventory import service as inventory
from pos.orders.tables import Order
from pos.orders.tokens import counter_qr_token
from pos.settings import Settings
from tests.helpers.shop import SECRET, Shop, open_shop
from tests.helpers.staff import device_headers, login_as

pytestmark = pytest.mark.anyio


def _key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


async def _shop_with_tea(stock: int = 10) -> tuple[Shop, int]:
    shop = await open_shop()
    return shop, await shop.add(price_fen=1250, stock=stock)


def _body(shop: Shop, product: int, quantity: int = 1) -> dict:
    token = counter_qr_token(shop.counter_id, secret=SECRET)
    return {"counter_token": token, "lines": [{"product_id": product, "quantity": quantity}]}


async def test_a_phone_creates_an_order_and_a_retry_gets_the_same_answer(
    client: httpx.AsyncClient,
) -> None:
    shop, tea = await _shop_with_tea()
    url, headers = f"/api/counters/{shop.counter_id}/orders", _key()
    body = _body(shop, tea, 2)
    body["lines"][0]["price_fen"] = 1
    first = await client.post(url, json=body, headers=headers)
    assert first.status_code == 201, first.text
    again = await client.post(url, json=body, headers=headers)
    assert again.status_code == 200
    assert again.json() == first.json()
    assert first.json()["total_fen"] == 2500


async def test_an_order_is_read_with_its_token_only(client: httpx.AsyncClient) -> None:
    shop, tea = await _shop_with_tea()
    created = await client.post(
        f"/api/counters/{shop.counter_id}/orders", json=_body(shop, tea), headers=_key()
    )
    order = created.json()
    url = f"/api/orders/{order['id']}"
    read = await client.get(url, params={"token": order["access_token"]})
    assert read.status_code == 200
    assert read.json()["access_token"] is None
    assert read.json()["lines"] == order["lines"]
    wrong = await client.get(url, params={"token": "x" * 43})
    assert wrong.status_code == 403
    assert wrong.json()["code"] == "order_token_invalid"
    unknown = await client.get("/api/orders/999999", params={"token": order["access_token"]})
    assert unknown.status_code == 404
    assert (await client.get(url)).status_code == 401


async def test_staff_read_orders_of_their_own_store_only(client: httpx.AsyncClient) -> None:
    shop, tea = await _shop_with_tea()
    other, _ = await _shop_with_tea()
    created = await client.post(
        f"/api/counters/{shop.counter_id}/orders", json=_body(shop, tea), headers=_key()
    )
    url = f"/api/orders/{created.json()['id']}"
    await login_as(client, "cashier", other.store_id)
    assert (await client.get(url)).status_code == 403
    await login_as(client, "cashier", shop.store_id)
    assert (await client.get(url)).status_code == 200


async def test_a_forged_counter_code_is_refused(client: httpx.AsyncClient) -> None:
    shop, tea = await _shop_with_tea()
    body = _body(shop, tea) | {"counter_token": counter_qr_token(shop.counter_id, secret="f" * 40)}
    response = await client.post(
        f"/api/counters/{shop.counter_id}/orders", json=body, headers=_key()
    )
    assert response.status_code == 403
    assert response.json()["code"] == "counter_token_invalid"


async def test_creating_needs_an_idempotency_key(client: httpx.AsyncClient) -> None:
    shop, tea = await _shop_with_tea()
    response = await client.post(f"/api/counters/{shop.counter_id}/orders", json=_body(shop, tea))
    assert response.status_code == 400


async def test_a_bad_check_digit_is_a_clear_4xx(client: httpx.AsyncClient) -> None:
    shop, _ = await _shop_with_tea()
    body = _body(shop, 1) | {"lines": [{"barcode": "6901234567893"}]}
    response = await client.post(
        f"/api/counters/{shop.counter_id}/orders", json=body, headers=_key()
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "barcode_check_digit"


async def test_a_product_id_past_the_id_range_is_a_400(client: httpx.AsyncClient) -> None:
    shop, _ = await _shop_with_tea()
    response = await client.post(
        f"/api/counters/{shop.counter_id}/orders", json=_body(shop, 2**63), headers=_key()
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_request"
    assert response.json()["errors"][0]["key"] == "lines.0.product_id"


@pytest.mark.parametrize("order_id", [2**31, 2**63])
async def test_an_order_id_past_the_id_range_is_a_400(
    client: httpx.AsyncClient, order_id: int
) -> None:
    response = await client.get(f"/api/orders/{order_id}", params={"token": "x" * 43})
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["key"] == "order_id"


async def test_an_order_past_what_an_amount_column_holds_is_a_422(
    client: httpx.AsyncClient,
) -> None:
    shop = await open_shop()
    gold = await shop.add(price_fen=1_000_000_000, stock=10)  # 3 of them pass INTEGER
    response = await client.post(
        f"/api/counters/{shop.counter_id}/orders", json=_body(shop, gold, 3), headers=_key()
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "order_total_too_large"
    assert (await inventory.get_level(shop.store_id, gold)).held == 0


async def test_sold_out_is_a_409(client: httpx.AsyncClient) -> None:
    shop, tea = await _shop_with_tea(stock=1)
    response = await client.post(
        f"/api/counters/{shop.counter_id}/orders", json=_body(shop, tea, 2), headers=_key()
    )
    assert response.status_code == 409
    assert response.json()["code"] == "out_of_stock"
    assert response.json()["product_id"] == tea


async def test_a_kiosk_creates_orders_with_its_device_token(client: httpx.AsyncClient) -> None:
    shop, tea = await _shop_with_tea()
    lines = {"lines": [{"product_id": tea, "quantity": 1}]}
    anonymous = await client.post("/api/kiosk/orders", json=lines, headers=_key())
    assert anonymous.status_code == 401
    headers = await device_headers("kiosk", shop.store_id) | _key()
    created = await client.post("/api/kiosk/orders", json=lines, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["device_id"] is not None
    assert created.json()["store_id"] == shop.store_id
    tablet = await device_headers("tablet", shop.store_id) | _key()
    assert (await client.post("/api/kiosk/orders", json=lines, headers=tablet)).status_code == 403


async def test_the_orders_api_is_in_the_openapi_schema(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    operations = {op["operationId"] for path in schema["paths"].values() for op in path.values()}
    assert {"createCounterOrder", "createKioskOrder", "getOrder"} <= operations


async def test_a_guessable_idempotency_key_is_refused_and_creates_nothing(
    client: httpx.AsyncClient,
) -> None:
    shop, tea = await _shop_with_tea()
    url = f"/api/counters/{shop.counter_id}/orders"

    response = await client.post(url, json=_body(shop, tea), headers={"Idempotency-Key": "order-7"})

    assert response.status_code == 400, response.text
    assert response.json()["errors"] == [
        {"message": "Expected `str` of length >= 16", "key": "idempotency_key", "source": "header"}
    ]
    assert (await inventory.get_level(shop.store_id, tea)).held == 0


@asynccontextmanager
async def _app_with(settings: Settings, **changed: Any) -> AsyncIterator[Litestar]:
    app = create_app(settings.model_copy(update=changed))
    async with app.lifespan():
        yield app


def _phone(app: Litestar, address: str = "10.0.0.7") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://pos.test")


async def test_past_its_order_budget_an_address_is_refused_and_nothing_is_held(
    settings: Settings,
) -> None:
    async with _app_with(settings, order_budget=2) as app, _phone(app) as phone:
        shop, tea = await _shop_with_tea()
        url = f"/api/counters/{shop.counter_id}/orders"
        created = [await phone.post(url, json=_body(shop, tea), headers=_key()) for _ in range(2)]
        refused = await phone.post(url, json=_body(shop, tea, 5), headers=_key())

        assert [response.status_code for response in created] == [201, 201]
        assert refused.status_code == 429, refused.text
        assert refused.json()["code"] == "too_many_orders"
        assert 0 < int(refused.headers["retry-after"]) <= 60
        assert await Order.count() == 2
        assert (await inventory.get_level(shop.store_id, tea)).held == 2


async def test_another_address_keeps_its_own_order_budget(settings: Settings) -> None:
    async with _app_with(settings, order_budget=1) as app:
        shop, tea = await _shop_with_tea()
        url = f"/api/counters/{shop.counter_id}/orders"
        async with _phone(app, "10.0.0.7") as first, _phone(app, "10.0.0.8") as second:
            spent = [await first.post(url, json=_body(shop, tea), headers=_key()) for _ in "ab"]
            other = await second.post(url, json=_body(shop, tea), headers=_key())

    assert [response.status_code for response in spent] == [201, 429]
    assert other.status_code == 201, other.text


async def test_a_retry_of_a_created_order_past_the_budget_gets_its_answer(
    settings: Settings,
) -> None:
    async with _app_with(settings, order_budget=1) as app, _phone(app) as phone:
        shop, tea = await _shop_with_tea()
        url, first_key = f"/api/counters/{shop.counter_id}/orders", _key()
        first = await phone.post(url, json=_body(shop, tea), headers=first_key)
        another = await phone.post(url, json=_body(shop, tea), headers=_key())
        retry = await phone.post(url, json=_body(shop, tea), headers=first_key)

    assert [first.status_code, another.status_code, retry.status_code] == [201, 429, 200]
    assert retry.json() == first.json()


async def test_an_order_budget_of_0_lets_an_address_order_without_limit(
    settings: Settings,
) -> None:
    orders = 61  # one past the default budget
    async with _app_with(settings, order_budget=0) as app, _phone(app) as phone:
        shop, tea = await _shop_with_tea(stock=orders)
        url = f"/api/counters/{shop.counter_id}/orders"
        statuses = [
            (await phone.post(url, json=_body(shop, tea), headers=_key())).status_code
            for _ in range(orders)
        ]

    assert statuses == [201] * orders


async def test_kiosk_orders_spend_no_order_budget(settings: Settings) -> None:
    async with _app_with(settings, order_budget=1) as app, _phone(app) as kiosk:
        shop, tea = await _shop_with_tea()
        lines = {"lines": [{"product_id": tea, "quantity": 1}]}
        token = await device_headers("kiosk", shop.store_id)
        statuses = [
            (await kiosk.post("/api/kiosk/orders", json=lines, headers=token | _key())).status_code
            for _ in range(3)
        ]

    assert statuses == [201] * 3


@pytest.mark.redis
async def test_two_app_servers_sharing_redis_spend_one_order_budget(
    settings: Settings, redis_url: str
) -> None:
    shared = settings.model_copy(update={"redis_url": redis_url, "order_budget": 3})
    first, second = create_app(shared), create_app(shared)
    async with first.lifespan(), second.lifespan():
        shop, tea = await _shop_with_tea()
        url = f"/api/counters/{shop.counter_id}/orders"
        phones = [_phone(app) for app in (first, second)]
        try:
            responses = await asyncio.gather(
                *(phones[i % 2].post(url, json=_body(shop, tea), headers=_key()) for i in range(10))
            )
        finally:
            for phone in phones:
                await phone.aclose()
        assert await Order.count() == 3

    assert sorted(r.status_code for r in responses) == [201] * 3 + [429] * 7
