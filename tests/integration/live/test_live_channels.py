"""The same live-status contract on the in-process and the Redis backend."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from contextlib import aclosing

import anyio
import pytest
from redis.asyncio import Redis

from pos.live import LiveChannels
from tests.conftest import REDIS_HOST, REDIS_PORT
from tests.integration.live.conftest import next_status, wait_for_subscriber, within

pytestmark = pytest.mark.anyio


def _reader(state: str, before: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[str]]:
    async def read_state() -> str:
        await before()
        return state

    return read_state


async def test_a_subscriber_receives_what_is_published(
    live: LiveChannels, until_subscribed: Callable[[str], Awaitable[None]]
) -> None:
    async with live.start_subscription(live.order_channel(1)) as subscriber:
        await until_subscribed(live.order_channel(1))
        await live.publish_order(1, "paying", payment_state="waiting")
        event = await within(anext(subscriber.iter_events()), "the update")
    assert json.loads(event) == {"order_id": 1, "state": "paying", "payment_state": "waiting"}


async def test_publishing_with_no_subscriber_is_fine(live: LiveChannels) -> None:
    await live.publish_order(2, "closed")


async def test_a_listener_gets_the_state_then_each_change_until_paid(
    live: LiveChannels, until_subscribed: Callable[[str], Awaitable[None]]
) -> None:
    ready = _reader("open", lambda: until_subscribed(live.order_channel(3)))
    async with aclosing(live.order_stream(3, ready)) as stream:
        assert await next_status(stream) == {"order_id": 3, "state": "open"}
        await live.publish_order(3, "paying")
        assert (await next_status(stream))["state"] == "paying"
        await live.publish_order(3, "paid")
        assert (await next_status(stream))["state"] == "paid"
        with pytest.raises(StopAsyncIteration):
            await within(anext(stream), "the end of the stream")


async def test_a_change_made_while_the_state_is_read_is_not_missed(
    live: LiveChannels, until_subscribed: Callable[[str], Awaitable[None]]
) -> None:
    async def change_meanwhile() -> None:
        await until_subscribed(live.order_channel(4))
        await live.publish_order(4, "paying")

    async with aclosing(live.order_stream(4, _reader("open", change_meanwhile))) as stream:
        assert (await next_status(stream))["state"] == "open"
        assert (await next_status(stream))["state"] == "paying"


@pytest.mark.parametrize("final", ["paid", "closed", "partially_refunded", "refunded"])
async def test_an_order_already_final_gets_its_state_and_the_stream_ends(
    live: LiveChannels, final: str
) -> None:
    async def nothing() -> None:
        return None

    async with aclosing(live.order_stream(5, _reader(final, nothing))) as stream:
        assert (await next_status(stream))["state"] == final
        with pytest.raises(StopAsyncIteration):
            await within(anext(stream), "the end of the stream")


async def test_an_idle_stream_sends_keep_alive_comments(
    live: LiveChannels, until_subscribed: Callable[[str], Awaitable[None]]
) -> None:
    live.keep_alive = 0.01
    ready = _reader("paying", lambda: until_subscribed(live.order_channel(6)))
    async with aclosing(live.order_stream(6, ready)) as stream:
        await next_status(stream)
        keep_alive = await within(anext(stream), "a keep-alive")
        assert (keep_alive.comment, keep_alive.data) == ("keep-alive", None)
        await live.publish_order(6, "closed")
        while (event := await within(anext(stream), "the update")).event != "status":
            pass
        assert json.loads(str(event.data))["state"] == "closed"


async def test_a_lost_update_reaches_the_listener_at_the_next_keep_alive(
    live: LiveChannels, until_subscribed: Callable[[str], Awaitable[None]]
) -> None:
    live.keep_alive = 0.01
    states = ["paying"]

    async def read_state() -> str:
        await until_subscribed(live.order_channel(8))
        return states[-1]

    async with aclosing(live.order_stream(8, read_state)) as stream:
        assert (await next_status(stream))["state"] == "paying"
        states.append("closed")  # committed, but its publish was lost (Redis away a moment)
        with anyio.fail_after(5):  # keep-alives alone would come for ever
            while (event := await anext(stream)).event != "status":
                pass
        assert json.loads(str(event.data)) == {"order_id": 8, "state": "closed"}
        with pytest.raises(StopAsyncIteration):
            await within(anext(stream), "the end of the stream")


async def test_an_ended_stream_forgets_its_orders_channel(live: LiveChannels) -> None:
    async def nothing() -> None:
        return None

    async with aclosing(live.order_stream(9, _reader("paid", nothing))) as stream:
        async for _ in stream:
            pass
    # Litestar would keep an empty entry for every order ever watched.
    assert live.order_channel(9) not in live._channels


@pytest.mark.redis
async def test_a_closed_stream_leaves_no_redis_subscription(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    live = LiveChannels.create(redis, prefix=f"pos_test_{uuid.uuid4().hex[:8]}")
    channel = live.order_channel(7)

    ready = _reader("open", lambda: wait_for_subscriber(redis, channel))
    async with live, aclosing(live.order_stream(7, ready)) as stream:
        await next_status(stream)
    assert (await redis.pubsub_numsub(channel))[0][1] == 0
    await redis.aclose()


@pytest.mark.redis
async def test_installations_on_two_databases_of_one_redis_do_not_hear_each_other(
    watcher: Redis,
) -> None:
    # Two installations on one Redis server, each on a database of its own (redis://.../0 and
    # /1) and both with the default POS_REDIS_PREFIX ("pos"; a shared random one here). Their
    # keys are apart, their order ids overlap. B's order 1 being paid must not tell a phone on
    # A's order 1 that it is paid: its page leaves for the receipt and the stream ends.
    prefix = f"pos_test_{uuid.uuid4().hex[:8]}"
    redis_a = Redis.from_url(f"redis://{REDIS_HOST}:{REDIS_PORT}/0")
    redis_b = Redis.from_url(f"redis://{REDIS_HOST}:{REDIS_PORT}/1")
    installation_a = LiveChannels.create(redis_a, prefix=prefix)
    installation_b = LiveChannels.create(redis_b, prefix=prefix)
    installation_a.keep_alive = 0.5  # A's own order 1 stays open: a keep-alive comes next
    a_channel = installation_a.order_channel(1)
    ready = _reader("open", lambda: wait_for_subscriber(watcher, a_channel))
    try:
        async with (
            installation_a,
            installation_b,
            aclosing(installation_a.order_stream(1, ready)) as stream,
        ):
            assert (await next_status(stream))["state"] == "open"
            await installation_b.publish_order(1, "paid")
            event = await within(anext(stream), "the next event")
            assert event.comment == "keep-alive", f"A's phone was told {event.data!s}"
    finally:
        await redis_a.aclose()
        await redis_b.aclose()
