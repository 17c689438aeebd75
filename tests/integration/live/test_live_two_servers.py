"""Two server processes on one Redis: a change made through one reaches a listener on the other."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.shop import open_shop
from tests.helpers.staff import device_headers
from tests.integration.live.conftest import within
from tests.integration.live.servers import running_servers, sse_events

pytestmark = [pytest.mark.anyio, pytest.mark.redis, pytest.mark.slow]

PAID_AT_ONCE = "134567890123459999"  # a sandbox payment code that pays without a PIN


@pytest.fixture
def two_servers(database_url: str, redis_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`pos serve` twice on one database and one Redis, under a Redis prefix of this test's."""
    env = {
        "POS_DATABASE_URL": database_url,
        "POS_REDIS_URL": redis_url,
        "POS_REDIS_PREFIX": f"pos_test_{uuid.uuid4().hex[:8]}",
        "POS_RUN_WORKER": "false",
        "POS_LOG_LEVEL": "WARNING",
    }
    with running_servers(2, env, tmp_path) as (server_a, server_b):
        yield server_a, server_b


async def _order_at_counter(
    http: httpx.AsyncClient, server: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """An order made at a counter, and the headers of that counter's scanner."""
    shop = await open_shop()
    tea = await shop.add(price_fen=1250, stock=5)
    body = shop.order_in({"product_id": tea, "quantity": 1}).model_dump(mode="json")
    url = f"{server}/api/counters/{shop.counter_id}/orders"
    response = await http.post(url, json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
    assert response.status_code == 201, response.text
    scanner = await device_headers("counter", shop.store_id, shop.counter_id)
    return response.json(), scanner


async def test_a_payment_through_one_server_reaches_a_listener_on_the_other(
    db: str, two_servers: tuple[str, str]
) -> None:
    server_a, server_b = two_servers
    async with httpx.AsyncClient(timeout=30) as http:
        order, scanner = await _order_at_counter(http, server_b)
        token = {"token": order["access_token"]}
        events_url = f"{server_a}/api/orders/{order['id']}/events"
        async with http.stream("GET", events_url, params=token) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            events = sse_events(stream)
            first = await within(anext(events), "the current state from server A")
            assert first == {"event": "status", "data": {"order_id": order["id"], "state": "open"}}
            payment = {"method": "code", "auth_code": PAID_AT_ONCE}
            paid = await http.post(
                f"{server_b}/api/orders/{order['id']}/payments",
                params=token,
                json=payment,
                headers={"Idempotency-Key": uuid.uuid4().hex, **scanner},
            )
            assert paid.status_code == 201, paid.text
            states = [event["data"]["state"] async for event in _within_each(events)]
    assert states[-1] == "paid", states


async def _within_each(events: Any) -> Any:
    while True:
        try:
            yield await within(anext(events), "server B's changes on server A's stream")
        except StopAsyncIteration:
            return
