"""The background worker: runs the outbox's due events, beside the app or as `pos worker`.

The event handlers are wired here, the one place that knows every consumer of every event, and
which kinds' events keep their order among each other.
Embedded (the default, `POS_RUN_WORKER=true`) it runs inside each app server; in production run
`pos worker` processes instead (PostgreSQL only for more than one: SQLite takes one worker).
"""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial

import anyio
from redis.asyncio import Redis

from pos.analytics import rollups as analytics
from pos.events import outbox
from pos.events.wakeups import listen_for_events
from pos.inventory import feeds
from pos.live import LiveChannels
from pos.logs import logger
from pos.orders import service as orders
from pos.payments.plugin import build_payments, payment_handlers
from pos.payments.wallet import HttpSender
from pos.platform import service as platform
from pos.platform.relay import run_relay
from pos.printing import service as printing
from pos.printing.queue import PrintSender
from pos.settings import Settings

__all__ = ["IDLE_SECONDS", "embedded_worker", "register_handlers", "run_worker", "worker_main"]

IDLE_SECONDS = 1.0


def register_handlers(settings: Settings | None = None) -> None:
    """Connect each event kind to its handlers (safe to repeat); printing needs `settings`."""
    # An order's events run in the order written: a refund's handlers after its sale's.
    outbox.share_subjects("order", orders.HOLD_EXPIRY, orders.ORDER_PAID, orders.ORDER_REFUNDED)
    outbox.register(orders.HOLD_EXPIRY, orders.on_hold_expiry)
    outbox.register(feeds.FEED_PULL, feeds.on_feed_pull)
    # Receipts first: a shopper waits for theirs, and the rollups may wait on a store-day's lock.
    # Every handler runs whatever the others do, and an event retried runs them all again.
    if settings is not None:
        printing.install(settings)
    analytics.install()
    platform.install()


async def run_worker(
    stop: anyio.Event, *, idle_seconds: float = IDLE_SECONDS, settings: Settings | None = None
) -> None:
    """Dispatch due events until `stop` is set; when idle, wait for a notify or `idle_seconds`.

    On PostgreSQL, events committed by other processes notify too (`listen_for_events`).
    With `settings`, the print queue's sender, the platform relay and the purge of done events
    run beside the dispatcher.
    """
    register_handlers(settings)
    logger.info("worker started")
    async with anyio.create_task_group() as group:
        group.start_soon(listen_for_events, stop)
        if settings is not None:
            group.start_soon(PrintSender(settings).run, stop)
            group.start_soon(run_relay, stop, settings)
            group.start_soon(outbox.keep_purging, stop, timedelta(days=settings.outbox_keep_days))
        await outbox.run_dispatcher(stop, idle_seconds)
    logger.info("worker stopped")


@asynccontextmanager
async def embedded_worker(enabled: bool, settings: Settings | None = None) -> AsyncIterator[None]:
    """Run a worker beside the app while the context is open (when `enabled`)."""
    if not enabled:
        yield
        return
    stop = anyio.Event()
    async with anyio.create_task_group() as group:
        group.start_soon(partial(run_worker, stop, settings=settings))
        try:
            yield
        finally:
            stop.set()


async def worker_main(settings: Settings) -> None:
    """`pos worker`: run until SIGINT or SIGTERM, publishing live updates like an app server."""
    _lower_priority(settings.worker_nice)
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    stop = anyio.Event()
    try:
        payments = build_payments(settings)
        async with (
            LiveChannels.create(redis, prefix=settings.redis_prefix),
            payments.provider,
            HttpSender() as sender,
            anyio.create_task_group() as group,
        ):
            # Before any work starts: a signal that comes in first would otherwise kill the
            # process (KeyboardInterrupt) instead of stopping it.
            await group.start(_stop_on_signal, stop)
            with payment_handlers(lambda: payments, lambda: sender):
                await run_worker(stop, settings=settings)
            group.cancel_scope.cancel()
    finally:
        if redis is not None:
            await redis.aclose()


def _lower_priority(nice: int) -> None:
    """Yield busy cores to the app servers: a shopper's request comes before a receipt or rollup.

    At 32 checkouts at once on 2 cores this took order creation's p99 from 105 to 70 ms.
    Only ever lowered, which any process may do to itself: raising it takes privileges.
    """
    current = os.getpriority(os.PRIO_PROCESS, 0)
    if nice > current:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
        logger.info("worker: CPU priority lowered", nice=nice)


async def _stop_on_signal(
    stop: anyio.Event, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        task_status.started()
        async for received in signals:
            logger.info("worker: stopping", signal=received.name)
            stop.set()
            return
