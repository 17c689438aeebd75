"""Live order status over Litestar channels: one channel per order, shared through Redis when set.

A service publishes after its commit with `await publish_order(order_id, state, **details)`: it
needs no request and imports no routes. While an app (or a `pos worker`) runs its `LiveChannels`,
those channels are the process's publisher, the way `pos.db.bind` installs the engine; a ContextVar
set in the lifespan would not reach request tasks, which the server starts from its own context.
With `POS_REDIS_URL` set, every server and worker on the same `POS_REDIS_PREFIX` and Redis
database shares the channels; without it, an update reaches listeners in the same process only.
Redis failing never fails a caller: the database is the truth. A listener is sent the state read
afresh when it connects, and again at each keep-alive if an update was lost (or Redis refused its
subscription). After Redis restarts, the channels are listened to again. A server stopping
ends its streams at once (`end_streams`): a stream ends only with its order otherwise, and the
server would wait for it; each page reconnects, through the load balancer, to another server.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing, nullcontext
from types import TracebackType
from typing import Any, Self

import anyio
from litestar.channels import ChannelsPlugin, Subscriber
from litestar.channels.backends.base import ChannelsBackend
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from litestar.response import ServerSentEventMessage
from redis.asyncio import Redis

from pos.logs import logger
from pos.orders.states import OrderState

__all__ = ["FINAL_STATES", "LiveChannels", "end_streams", "publish_order"]

# Every state after payment ends a stream: a partly refunded order may never be fully refunded.
FINAL_STATES = frozenset(
    {OrderState.PAID, OrderState.CLOSED, OrderState.PARTIALLY_REFUNDED, OrderState.REFUNDED}
)
KEEP_ALIVE_SECONDS = 15.0
# A slow Redis must not hold up the response of the request that changed the order.
PUBLISH_TIMEOUT_SECONDS = 1.0
RECONNECT_MILLISECONDS = 2000
# Between attempts to listen again while Redis is away; each attempt that fails is logged.
RELISTEN_SECONDS = 1.0
# Put in each stream's queue by `end_streams`; a published update is never empty.
_END = b""

_running: list[LiveChannels] = []


class LiveChannels(ChannelsPlugin):
    """The channels plugin for order status; the process's publisher while it runs."""

    def __init__(
        self, backend: ChannelsBackend, *, prefix: str, keep_alive: float = KEEP_ALIVE_SECONDS
    ) -> None:
        super().__init__(backend, arbitrary_channels_allowed=True)
        self.prefix = prefix
        self.keep_alive = keep_alive
        # A channel's subscription in the backend, which every listener of the channel awaits.
        self._subscriptions: dict[str, asyncio.Future[None]] = {}
        self._streams: set[asyncio.Queue[bytes]] = set()  # each open stream's updates
        self._ending = False

    @classmethod
    def create(cls, redis: Redis | None, *, prefix: str) -> LiveChannels:
        """Redis pub/sub when a client is given (shared by all processes), in-process otherwise."""
        if redis is None:
            return cls(MemoryChannelsBackend(), prefix=prefix)
        backend = RedisChannelsPubSubBackend(redis=redis, key_prefix=prefix)
        database = redis.connection_pool.connection_kwargs.get("db", 0)
        return cls(backend, prefix=f"{prefix}:db{database}")

    def order_channel(self, order_id: int) -> str:
        """The channel of one order."""
        # Pub/sub channel names ignore the backend's key prefix and the Redis database number:
        # both in the name keep installations (and test runs) on one Redis server apart.
        return f"{self.prefix}:order:{order_id}"

    async def publish_order(self, order_id: int, state: str, **details: Any) -> None:
        """Send an order's new state to its listeners; log and carry on if that fails."""
        message = {"order_id": order_id, "state": str(state), **details}
        try:
            with anyio.fail_after(PUBLISH_TIMEOUT_SECONDS):
                await self.wait_published(message, self.order_channel(order_id))
        except Exception as exc:  # any backend failure: the database already holds the truth
            logger.warning("live: publish failed", order_id=order_id, state=state, error=repr(exc))

    async def order_stream(
        self, order_id: int, read_state: Callable[[], Awaitable[str]]
    ) -> AsyncGenerator[ServerSentEventMessage, None]:
        """The order's state now, then each update until a final state, with keep-alives between."""
        channel = self.order_channel(order_id)
        subscriber = await self._subscribe(channel)
        try:
            # Read after subscribing, so no update can fall between the read and the stream.
            state = str(await read_state())
            yield _status_event({"order_id": order_id, "state": state})
            if state not in FINAL_STATES:
                updates = self._updates(subscriber, order_id, state, read_state)
                async with aclosing(updates):
                    async for event in updates:
                        yield event
        finally:
            if subscriber is not None:
                # A client that goes away cancels the stream; the unsubscribe must still finish.
                with anyio.CancelScope(shield=True):
                    await self._unsubscribe(subscriber, channel)

    def end_streams(self) -> None:
        """End every open stream after the update it is sending, and each new one after its
        first: the server is stopping."""
        self._ending = True
        for queue in self._streams:
            queue.put_nowait(_END)

    async def _subscribe(self, channel: str) -> Subscriber | None:
        """A subscriber to `channel`; None if Redis refuses, the stream's rereads standing in.

        The channel's first listener subscribes in Redis, and those who come meanwhile wait for
        that subscription too: each is listening once it returns, or none is.
        """
        # Not Litestar's `subscribe`: that keeps the subscriber when the backend fails, and with
        # it the channel's entry, so no later listener of the order would subscribe in Redis.
        subscriber = Subscriber(self)
        self._channels.setdefault(channel, set()).add(subscriber)
        if channel not in self._subscriptions:
            self._subscriptions[channel] = asyncio.ensure_future(self._listen_to(channel))
        try:
            # Shielded: a listener leaving must not cancel the subscription others wait for.
            await asyncio.shield(self._subscriptions[channel])
        except BaseException as exc:
            self._leave(subscriber, channel)
            if not isinstance(exc, Exception):
                raise  # cancelled: the listener went away
            logger.warning("live: subscribe failed", channel=channel, error=repr(exc))
            return None
        return subscriber

    async def _listen_to(self, channel: str) -> None:
        await self._backend.subscribe([channel])
        if not self._channels.get(channel):  # every listener left meanwhile
            await self._backend.unsubscribe([channel])

    async def _unsubscribe(self, subscriber: Subscriber, channel: str) -> None:
        if self._channels.get(channel) == {subscriber}:
            # The last listener: one coming while Redis unsubscribes must subscribe again.
            self._subscriptions.pop(channel, None)
        try:
            await self.unsubscribe(subscriber, channel)
        except Exception as exc:  # Redis away: the subscriber is gone from here all the same
            logger.warning("live: unsubscribe failed", channel=channel, error=repr(exc))
        self._forget_if_unheard(channel)

    def _leave(self, subscriber: Subscriber, channel: str) -> None:
        """Forget a listener that never listened."""
        self._channels.get(channel, set()).discard(subscriber)
        self._forget_if_unheard(channel)

    def _forget_if_unheard(self, channel: str) -> None:
        # Litestar keeps a channel's entry after its last subscriber left: one per order ever
        # watched, and every unsubscribe walks them all.
        if not self._channels.get(channel, True):
            del self._channels[channel]
            self._subscriptions.pop(channel, None)

    async def _sub_worker(self) -> None:
        """Litestar's listener, started again when Redis fails instead of ending for good.

        Once Redis is back, redis-py's reconnect subscribes the channels it held again.
        """
        while True:
            try:
                await super()._sub_worker()
            except Exception as exc:
                logger.warning(
                    "live: listening failed, retrying", error=repr(exc), seconds=RELISTEN_SECONDS
                )
                await asyncio.sleep(RELISTEN_SECONDS)
            else:
                return

    async def _updates(
        self,
        subscriber: Subscriber | None,
        order_id: int,
        state: str,
        read_state: Callable[[], Awaitable[str]],
    ) -> AsyncGenerator[ServerSentEventMessage, None]:
        """Each update after `state`; when none came for a keep-alive, the state read again.

        A publish may be lost (Redis away, or slower than PUBLISH_TIMEOUT_SECONDS): the reread
        brings the listener to the order's state within a keep-alive all the same. With no
        subscriber (Redis refused it), the rereads alone do.
        """
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        last = state
        listening = (
            subscriber.run_in_background(queue.put, join=False) if subscriber else nullcontext()
        )
        self._streams.add(queue)
        try:
            async with listening:
                while last not in FINAL_STATES and not self._ending:
                    data = await _next_or_none(queue, self.keep_alive)
                    if data == _END:
                        return
                    update = json.loads(data) if data is not None else None
                    if update is None and (now := str(await read_state())) != last:
                        update = {"order_id": order_id, "state": now}
                    if update is None:
                        yield ServerSentEventMessage(data=None, comment="keep-alive")
                        continue
                    last = update.get("state")
                    yield _status_event(update)
        finally:
            self._streams.discard(queue)

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        _running.append(self)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        if self in _running:
            _running.remove(self)
        await super().__aexit__(exc_type, exc_val, exc_tb)


def end_streams() -> None:
    """End the order status streams of this process: it is stopping."""
    for channels in _running:
        channels.end_streams()


async def publish_order(order_id: int, state: str, **details: Any) -> None:
    """Tell live listeners that an order changed; call after the commit. Never raises."""
    if not _running:
        logger.debug("live: no channels running, update not sent", order_id=order_id)
        return
    await _running[-1].publish_order(order_id, state, **details)


async def _next_or_none(queue: asyncio.Queue[bytes], seconds: float) -> bytes | None:
    with anyio.move_on_after(seconds):
        return await queue.get()
    return None


def _status_event(status: dict[str, Any]) -> ServerSentEventMessage:
    return ServerSentEventMessage(
        data=json.dumps(status, ensure_ascii=False), event="status", retry=RECONNECT_MILLISECONDS
    )
