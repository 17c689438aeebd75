"""Live status while Redis is away or restarts: the database stands in, listening comes back."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import aclosing
from pathlib import Path

import anyio
import httpx
import pytest
from redis.asyncio import Redis

from pos.live import LiveChannels
from tests.helpers.shop import open_shop
from tests.integration.live.conftest import next_status, wait_for_subscriber, within
from tests.integration.live.redis_relay import RedisRelay
from tests.integration.live.servers import running_servers, sse_events

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

# redis-py does not retry a pub/sub read by itself: a cut connection ends Litestar's listener at
# once, so a short outage is a Redis restart.
REDIS_RESTART_SECONDS = 0.5


@pytest.fixture
def relay(redis_url: str) -> Iterator[RedisRelay]:
    relay = RedisRelay()
    relay.up()
    yield relay
    relay.close()


@pytest.fixture
async def live(relay: RedisRelay) -> AsyncIterator[LiveChannels]:
    """Channels on a client of Redis through the relay, as a server's when Redis restarts."""
    client = Redis.from_url(relay.url)
    live = LiveChannels.create(client, prefix=f"pos_test_{uuid.uuid4().hex[:8]}")
    live.keep_alive = 60.0  # the keep-alive reread must not stand in for an update
    yield live
    await client.aclose()


def _reads(state: str) -> Callable[[], Awaitable[str]]:
    async def read_state() -> str:
        return state

    return read_state


@pytest.mark.slow
async def test_a_phone_opening_its_order_while_redis_is_away_gets_the_orders_state(
    db: str, relay: RedisRelay, tmp_path: Path
) -> None:
    # Redis only makes things faster or shared (DESIGN), and the stream rereads the state at
    # each keep-alive for when an update is lost. A phone's EventSource gives up for good on a
    # 500: a page opened while Redis restarts would never hear that its order was paid.
    shop = await open_shop()
    tea = await shop.add(price_fen=800)
    order = (await shop.order({"product_id": tea, "quantity": 1})).order
    env = {
        "POS_DATABASE_URL": db,
        "POS_REDIS_URL": relay.url,
        "POS_REDIS_PREFIX": f"pos_test_{uuid.uuid4().hex[:8]}",
        "POS_RUN_WORKER": "false",
        "POS_LOG_LEVEL": "WARNING",
    }
    with running_servers(1, env, tmp_path) as (server,):
        relay.down()
        async with httpx.AsyncClient(timeout=30) as http:
            # The load balancer's health check (or any other use of Redis) finds it away.
            health = (await http.get(f"{server}/health")).json()
            assert health["redis"] == "down", health
            url = f"{server}/api/orders/{order.id}/events"
            async with http.stream("GET", url, params={"token": order.access_token}) as stream:
                assert stream.status_code == 200, (await stream.aread()).decode()
                first = await within(anext(sse_events(stream)), "the order's state")
    assert first == {"event": "status", "data": {"order_id": order.id, "state": "open"}}


async def test_a_listener_that_came_while_redis_was_away_does_not_deafen_later_ones(
    relay: RedisRelay, live: LiveChannels, watcher: Redis
) -> None:
    async with live:
        relay.down()
        async with aclosing(live.order_stream(1, _reads("open"))) as early:
            assert await next_status(early) == {"order_id": 1, "state": "open"}
        relay.up()
        # Redis is back: the next phone on the order must be subscribed and hear the payment.
        async with aclosing(live.order_stream(1, _reads("open"))) as stream:
            assert (await next_status(stream))["state"] == "open"
            await wait_for_subscriber(watcher, live.order_channel(1))
            await live.publish_order(1, "paid")
            assert await next_status(stream) == {"order_id": 1, "state": "paid"}


async def test_a_listener_hears_its_order_paid_after_redis_restarts(
    relay: RedisRelay, live: LiveChannels, watcher: Redis
) -> None:
    # Leaving the block shuts the channels down: Litestar would raise its dead listener's error.
    async with live, aclosing(live.order_stream(2, _reads("paying"))) as stream:
        assert (await next_status(stream))["state"] == "paying"
        await wait_for_subscriber(watcher, live.order_channel(2))
        relay.down()
        await anyio.sleep(REDIS_RESTART_SECONDS)
        relay.up()
        # The phone still listens: once Redis is back, its order's channel must be again.
        await wait_for_subscriber(watcher, live.order_channel(2))
        await live.publish_order(2, "paid")
        assert await next_status(stream) == {"order_id": 2, "state": "paid"}


async def test_a_listener_leaving_while_redis_is_away_leaves_without_an_error(
    relay: RedisRelay, live: LiveChannels, watcher: Redis
) -> None:
    async with live:
        async with aclosing(live.order_stream(3, _reads("paying"))) as stream:
            await next_status(stream)
            await wait_for_subscriber(watcher, live.order_channel(3))
            relay.down()
            await anyio.sleep(0.1)  # for the client to find its connection cut
        assert live.order_channel(3) not in live._channels
