"""Live order status with the in-process backend: naming, the process publisher, failures."""

from __future__ import annotations

from collections.abc import Awaitable, Iterable

import anyio
import pytest
from litestar.channels.backends.memory import MemoryChannelsBackend

from pos.live import LiveChannels, publish_order

pytestmark = pytest.mark.anyio


class BrokenBackend(MemoryChannelsBackend):
    """Publishing fails, as with Redis down."""

    async def publish(self, data: bytes, channels: Iterable[str]) -> None:
        raise ConnectionError("redis is down")


class SlowBackend(MemoryChannelsBackend):
    """Subscribing waits until `answer` is set, then fails if told to."""

    def __init__(self, *, fails: bool) -> None:
        super().__init__()
        self.answer = anyio.Event()
        self.fails = fails

    async def subscribe(self, channels: Iterable[str]) -> None:
        await self.answer.wait()
        if self.fails:
            raise ConnectionError("redis is down")
        await super().subscribe(channels)


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


@pytest.mark.parametrize("fails", [False, True])
async def test_listeners_coming_while_a_channel_subscribes_share_its_outcome(fails: bool) -> None:
    backend = SlowBackend(fails=fails)
    async with LiveChannels(backend, prefix="t") as live:
        channel = live.order_channel(5)
        subscribed: list[object] = []
        async with anyio.create_task_group() as listeners:
            for _ in range(2):  # the second comes while the first's subscription is on its way
                listeners.start_soon(lambda: _append(subscribed, live._subscribe(channel)))
            await anyio.sleep(0.05)
            assert subscribed == [], "nobody listens before the channel is subscribed"
            backend.answer.set()
        assert [s is None for s in subscribed] == [fails, fails]
        assert (channel in live._channels) is not fails  # a failed channel is forgotten


async def _append(found: list[object], coming: Awaitable[object]) -> None:
    found.append(await coming)
