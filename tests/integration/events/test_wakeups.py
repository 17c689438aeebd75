"""A worker wakes when another process commits an event, not at its next poll (PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import asyncpg
import pytest

from pos.events import outbox, wakeups
from tests.integration.events.conftest import running_worker

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.postgres,
    pytest.mark.parametrize("database_url", ["postgres"], indirect=True),
]

_INSERT = (
    "INSERT INTO outbox_event (kind, key, payload, available_at, attempts, last_error,"
    " claimed_by, created_at) VALUES ($1, $2, '{}', now() + $3 * interval '1 second',"
    " 0, '', '', now())"
)


@pytest.fixture
async def other_process(db: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection of its own, like an app server's: it never calls this process's notify."""
    connection = await asyncpg.connect(db)
    yield connection
    await connection.close()


async def _listening_worker(kind: str, ran: list[str]) -> anyio.Event:
    ran_one = anyio.Event()

    async def record(event: outbox.Event) -> None:
        ran.append(event.key)
        ran_one.set()

    outbox.register(kind, record)
    return ran_one


async def test_an_event_from_another_process_wakes_the_idle_worker(
    db: str, kind: str, other_process: asyncpg.Connection
) -> None:
    ran: list[str] = []
    ran_one = await _listening_worker(kind, ran)
    async with running_worker():
        await anyio.sleep(0.5)  # idle now, for up to 30 s
        await other_process.execute(_INSERT, kind, "k", 0)
        with anyio.fail_after(5):
            await ran_one.wait()
    assert ran == ["k"]


async def test_the_worker_listens_again_after_losing_its_connection(
    db: str, kind: str, other_process: asyncpg.Connection
) -> None:
    ran: list[str] = []
    ran_one = await _listening_worker(kind, ran)
    async with running_worker():
        await anyio.sleep(0.5)
        killed = await other_process.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query LIKE 'LISTEN %'"
        )
        assert killed == 1
        await anyio.sleep(wakeups.RECONNECT_SECONDS + 0.5)
        await other_process.execute(_INSERT, kind, "k", 0)
        with anyio.fail_after(5):
            await ran_one.wait()
    assert ran == ["k"]


async def test_only_events_due_now_send_a_notification(
    db: str, kind: str, other_process: asyncpg.Connection
) -> None:
    listener = await asyncpg.connect(db)
    heard: list[str] = []
    heard_one = anyio.Event()

    def hear(*args: object) -> None:
        heard.append(str(args[2]))
        heard_one.set()

    await listener.add_listener(wakeups.CHANNEL, hear)
    try:
        await other_process.execute(_INSERT, kind, "later", 300)
        await anyio.sleep(0.3)
        assert heard == []
        await other_process.execute(_INSERT, kind, "now", 0)
        with anyio.fail_after(5):
            await heard_one.wait()
        assert heard == [wakeups.CHANNEL]
    finally:
        await listener.close()
