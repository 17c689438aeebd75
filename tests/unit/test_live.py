"""Live order status with the in-process backend: naming, the process publisher, failures."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from litestar.channels.backends.memory import MemoryChannelsBackend

from pos.live import LiveChannels, publish_order

pytestmark = pytest.mark.anyio


class BrokenBackend(MemoryChannelsBackend):
    """Publishing fails, as with Redis down."""

    async def publish(self, data: bytes, channels: Iterable[str]) -> None:
        raise ConnectionError("redis is down")


def test_each_order_has_its_own_channel_under_the_prefix() -> None:
    live = LiveChannels.create(None, prefix="shop1")
    assert live.order_channel(7) == "shop1:order:7"
    assert live.order_channel(8) != live.order_channel(7)


async def test_publishing_with_no_channels_running_does_nothing() -> None:
    await publish_order(1, "paid")


async def test_publishing_with_no_subscriber_is_fine() -> None:
    async with LiveChannels.create(None, prefix="t") as live:
        await live.publish_order(1, "paying")


async def test_a_failing_backend_does_not_raise_into_the_caller() -> None:
    async with LiveChannels(BrokenBackend(), prefix="t") as live:
        subscriber = await live.subscribe(live.order_channel(1))
        await live.publish_order(1, "paid")
        await publish_order(1, "paid")
        await live.unsubscribe(subscriber)


async def test_publish_order_reaches_the_channels_running_in_this_process() -> None:
    live = LiveChannels.create(None, prefix="t")
    async with live, live.start_subscription(live.order_channel(3)) as subscriber:
        await publish_order(3, "paid", payment="sandbox")
        event = await anext(subscriber.iter_events())
    assert event == b'{"order_id":3,"state":"paid","payment":"sandbox"}'


async def test_the_publisher_is_released_when_the_channels_stop() -> None:
    async with LiveChannels.create(None, prefix="t") as outer:
        async with LiveChannels(BrokenBackend(), prefix="t"):
            pass
        async with outer.start_subscription(outer.order_channel(4)) as subscriber:
            await publish_order(4, "closed")
            assert await anext(subscriber.iter_events()) == b'{"order_id":4,"state":"closed"}'
