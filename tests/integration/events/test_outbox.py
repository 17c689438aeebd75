from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import anyio
import pytest

from pos.db import write_transaction
from pos.events import outbox
from pos.events.tables import OutboxEvent
from pos.worker import run_worker

pytestmark = pytest.mark.anyio

NOW = datetime.now(UTC)


@pytest.fixture
def kind() -> Iterator[str]:
    """An event kind of this test's own, its handlers unregistered afterwards."""
    name = f"test_{uuid.uuid4().hex[:8]}"
    yield name
    for fn in list(outbox._handlers.get(name, [])):
        outbox.unregister(name, fn)


async def _row(kind: str, key: str = "k") -> dict:
    row = (
        await OutboxEvent.select()
        .where((OutboxEvent.kind == kind) & (OutboxEvent.key == key))
        .first()
    )
    assert row is not None
    return row


async def test_emitting_the_same_kind_and_key_twice_is_a_no_op(db: str, kind: str) -> None:
    async with write_transaction():
        await outbox.emit(kind, "k", {"n": 1})
        await outbox.emit(kind, "k", {"n": 2})
    assert await OutboxEvent.count().where(OutboxEvent.kind == kind) == 1
    seen: list[dict] = []

    async def record(event: outbox.Event) -> None:
        seen.append(event.payload)

    outbox.register(kind, record)
    outbox.register(kind, record)
    assert await outbox.dispatch_due() == 1
    assert seen == [{"n": 1}]
    assert (await _row(kind))["done_at"] is not None
    assert await outbox.dispatch_due() == 0


async def test_a_rolled_back_transaction_emits_nothing(db: str, kind: str) -> None:
    async def emit_then_fail() -> None:
        async with write_transaction():
            await outbox.emit(kind, "k", {})
            raise RuntimeError

    with pytest.raises(RuntimeError):
        await emit_then_fail()
    assert await OutboxEvent.count().where(OutboxEvent.kind == kind) == 0


async def test_events_wait_until_available_and_for_their_handler(db: str, kind: str) -> None:
    await outbox.emit(kind, "later", {}, available_at=NOW + timedelta(minutes=5))
    await outbox.emit(kind, "now", {})
    assert await outbox.dispatch_due() == 0  # no handler yet: the events wait for one
    ran: list[str] = []

    async def record(event: outbox.Event) -> None:
        ran.append(event.key)

    outbox.register(kind, record)
    assert await outbox.dispatch_due() == 1
    assert await outbox.dispatch_due(now=NOW + timedelta(minutes=6)) == 1
    assert ran == ["now", "later"]


async def test_a_failing_handler_is_retried_with_back_off_then_dead(db: str, kind: str) -> None:
    calls = 0

    async def broken(event: outbox.Event) -> None:
        nonlocal calls
        calls += 1
        raise ValueError(f"printer on fire, try {event.attempts}")

    outbox.register(kind, broken)
    await outbox.emit(kind, "k", {})
    clock = datetime.now(UTC)
    assert await outbox.dispatch_due(now=clock) == 1
    first = await _row(kind)
    assert first["attempts"] == 1
    assert "printer on fire, try 1" in first["last_error"]
    delay = first["available_at"] - clock
    assert outbox.BACKOFF_FIRST / 2 <= delay <= outbox.BACKOFF_FIRST
    assert await outbox.dispatch_due(now=clock) == 0  # not again before the back-off
    for _ in range(outbox.MAX_ATTEMPTS - 1):
        clock += timedelta(days=1)
        assert await outbox.dispatch_due(now=clock) == 1
    dead = await _row(kind)
    assert dead["dead_at"] is not None
    assert dead["done_at"] is None
    assert dead["attempts"] == outbox.MAX_ATTEMPTS
    assert calls == outbox.MAX_ATTEMPTS
    assert await outbox.dispatch_due(now=clock + timedelta(days=30)) == 0


async def test_one_failing_handler_does_not_stop_the_others(db: str, kind: str) -> None:
    printed: list[int] = []

    async def platform_down(event: outbox.Event) -> None:
        raise ConnectionError("platform unreachable")

    async def print_receipt(event: outbox.Event) -> None:
        printed.append(event.attempts)

    outbox.register(kind, platform_down)
    outbox.register(kind, print_receipt)
    await outbox.emit(kind, "k", {})
    assert await outbox.dispatch_due() == 1
    assert printed == [1]
    row = await _row(kind)
    assert row["done_at"] is None
    assert "platform unreachable" in row["last_error"]


async def test_a_crashed_workers_claim_is_picked_up_after_its_lease(db: str, kind: str) -> None:
    await outbox.emit(kind, "k", {})
    now = datetime.now(UTC)
    stale = now + outbox.LEASE - timedelta(seconds=1)
    await OutboxEvent.update(
        {
            OutboxEvent.claimed_by: "crashed",
            OutboxEvent.claimed_until: stale,
            OutboxEvent.attempts: 1,
        }
    ).where(OutboxEvent.kind == kind)
    ran: list[int] = []

    async def record(event: outbox.Event) -> None:
        ran.append(event.attempts)

    outbox.register(kind, record)
    assert await outbox.dispatch_due(now=now) == 0  # the lease still holds
    assert await outbox.dispatch_due(now=stale + timedelta(seconds=1)) == 1
    assert ran == [2]
    assert (await _row(kind))["done_at"] is not None


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_two_dispatchers_never_run_an_event_twice(db: str, kind: str) -> None:
    for n in range(60):
        await outbox.emit(kind, str(n), {})
    ran: list[str] = []

    async def slow(event: outbox.Event) -> None:
        await asyncio.sleep(0.01)
        ran.append(event.key)

    outbox.register(kind, slow)

    async def drain() -> int:
        total = 0
        while claimed := await outbox.dispatch_due(batch=5):
            total += claimed
        return total

    totals = await asyncio.gather(drain(), drain())
    assert sorted(ran, key=int) == [str(n) for n in range(60)]
    assert sum(totals) == 60
    assert all(total > 0 for total in totals)


async def test_the_worker_runs_an_event_as_soon_as_it_is_notified(db: str, kind: str) -> None:
    done = anyio.Event()

    async def record(event: outbox.Event) -> None:
        done.set()

    outbox.register(kind, record)
    stop = anyio.Event()
    async with anyio.create_task_group() as group:
        group.start_soon(lambda: run_worker(stop, idle_seconds=30))
        await anyio.sleep(0.2)  # the worker is idle now, for up to 30 s
        await outbox.emit(kind, "k", {})
        outbox.notify()
        with anyio.fail_after(5):
            await done.wait()
        stop.set()
        outbox.notify()
