"""Live channels on each backend (in-process and Redis), and bounded waits for the tests."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import anyio
import pytest
from litestar.response import ServerSentEventMessage
from redis.asyncio import Redis

from pos.live import LiveChannels

T = TypeVar("T")

WAIT_SECONDS = 10.0


async def within(awaitable: Awaitable[T], what: str) -> T:
    """Await `awaitable`, failing the test with `what` if it takes more than WAIT_SECONDS."""
    with anyio.move_on_after(WAIT_SECONDS):
        return await awaitable
    pytest.fail(f"waited {WAIT_SECONDS:.0f} s for {what}")


async def next_status(stream: AsyncGenerator[ServerSentEventMessage, None]) -> dict[str, Any]:
    """The next event of an order stream, which must be a status, as data."""
    event = await within(anext(stream), "a status event")
    assert event.event == "status", event
    data: dict[str, Any] = json.loads(str(event.data))
    return data


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def redis(request: pytest.FixtureRequest) -> AsyncIterator[Redis | None]:
    """No client for the in-process backend; a client of the test Redis otherwise."""
    if request.param == "memory":
        yield None
        return
    client = Redis.from_url(request.getfixturevalue("redis_url"))
    yield client
    await client.aclose()


@pytest.fixture
async def watcher(redis_url: str) -> AsyncIterator[Redis]:
    """A client of the test Redis itself, to watch its subscriptions."""
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def live(redis: Redis | None) -> AsyncIterator[LiveChannels]:
    async with LiveChannels.create(redis, prefix=f"pos_test_{uuid.uuid4().hex[:8]}") as channels:
        yield channels


async def wait_for_subscriber(redis: Redis, channel: str) -> None:
    """Wait until Redis has a subscriber on `channel` (a client subscribes asynchronously)."""

    async def poll() -> None:
        while True:
            if (await redis.pubsub_numsub(channel))[0][1]:
                return
            await anyio.sleep(0.01)

    await within(poll(), f"a subscriber on {channel}")


@pytest.fixture
def until_subscribed(redis: Redis | None) -> Callable[[str], Awaitable[None]]:
    """Wait for a subscriber on a channel: at once in-process, through Redis otherwise."""

    async def wait(channel: str) -> None:
        if redis is not None:
            await wait_for_subscriber(redis, channel)

    return wait
