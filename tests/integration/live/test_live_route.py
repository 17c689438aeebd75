"""GET /api/orders/{id}/events in-loop: who may listen, and an order that is already over."""

from __future__ import annotations

import httpx
import pytest

from pos.orders import service as orders
from tests.helpers.shop import open_shop

pytestmark = pytest.mark.anyio


async def _open_order() -> tuple[int, str]:
    shop = await open_shop()
    tea = await shop.add(price_fen=800)
    order = (await shop.order({"product_id": tea, "quantity": 1})).order
    assert order.access_token is not None
    return order.id, order.access_token


async def test_a_wrong_token_is_refused_before_any_event(client: httpx.AsyncClient) -> None:
    order_id, _ = await _open_order()
    response = await client.get(f"/api/orders/{order_id}/events", params={"token": "forged"})
    assert response.status_code == 403
    assert response.json()["code"] == "order_token_invalid"


async def test_an_unknown_order_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/orders/999999/events", params={"token": "x"})
    assert response.status_code == 404


async def test_a_closed_order_gets_its_state_and_the_stream_ends(client: httpx.AsyncClient) -> None:
    order_id, token = await _open_order()
    await orders.expire(order_id)
    response = await client.get(f"/api/orders/{order_id}/events", params={"token": token})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.text == (
        f'event: status\r\ndata: {{"order_id": {order_id}, "state": "closed"}}\r\n'
        "retry: 2000\r\n\r\n"
    )
