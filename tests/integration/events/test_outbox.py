from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest

from pos.db import write_transaction
from pos.events import outbox
from pos.events.tables import OutboxEvent
from pos.inventory import feeds
from pos.orders import service as orders
from pos.worker import register_handlers
from tests.integration.events.conftest import running_worker

pytestmark = pytest.mark.anyio

NOW = datetime.now(UTC)


async def _row(kind: str, key: str = "k") -> dict:
    row = (
        await OutboxEvent.select()
        .where((OutboxEvent.kind == kind) & (OutboxEvent.key == key))
        .first()
    )
    assert row is not None
    return row


async def _marked_done_soon(kind: str, key: str) -> bool:
    for _ in range(50):
        if (await _row(kind, key))["done_at"] is not None:
            return True
        await anyio.sleep(0.1)
    return False


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
    failed_by = datetime.now(UTC)
    first = await _row(kind)
    assert first["attempts"] == 1
    assert "printer on fire, try 1" in first["last_error"]
    earliest, latest = clock + outbox.BACKOFF_FIRST / 2, failed_by + outbox.BACKOFF_FIRST
    assert earliest <= first["available_at"] <= latest
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


async def test_the_back_off_counts_from_the_failure_not_the_claim(
    db: str, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "BACKOFF_FIRST", timedelta(seconds=0.5))
    failed_at: list[datetime] = []

    async def times_out(event: outbox.Event) -> None:
        await anyio.sleep(0.6)  # longer than the back-off
        failed_at.append(datetime.now(UTC))
        raise ConnectionError("timed out")

    outbox.register(kind, times_out)
    await outbox.emit(kind, "k", {})
    assert await outbox.dispatch_due() == 1
    assert (await _row(kind))["available_at"] >= failed_at[0] + outbox.BACKOFF_FIRST / 2
    assert await outbox.dispatch_due() == 0  # not due again at once, spending an attempt


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


async def test_an_event_whose_lease_passed_while_it_waited_is_left_to_its_new_worker(
    db: str, kind: str
) -> None:
    claimed = datetime.now(UTC) - timedelta(hours=1)  # the leases passed long ago
    await outbox.emit(kind, "7", {}, available_at=claimed)
    await outbox.emit(kind, "7:refund-1", {}, available_at=claimed)
    ran: list[str] = []
    taken_over: list[int] = []

    async def record(event: outbox.Event) -> None:
        if event.key == "7" and not taken_over:  # slow: the refund waits behind it
            taken_over.append(await outbox.dispatch_due())  # another worker claims meanwhile
        ran.append(event.key)

    outbox.register(kind, record)
    assert await outbox.dispatch_due(now=claimed) == 2
    assert ran == ["7:refund-1", "7"]
    assert taken_over == [1]  # not the sale: its lease was renewed when it started
    assert (await _row(kind, "7:refund-1"))["done_at"] is not None


async def test_a_handler_running_past_its_lease_keeps_its_event(
    db: str, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "LEASE", timedelta(seconds=0.6))
    started, finish = anyio.Event(), anyio.Event()
    ran: list[str] = []

    async def slow(event: outbox.Event) -> None:
        ran.append(event.key)
        started.set()
        await finish.wait()

    outbox.register(kind, slow)
    async with running_worker():
        await outbox.emit(kind, "k", {})
        outbox.notify()
        await started.wait()
        await anyio.sleep(1.5)  # two and a half leases
        assert (await _row(kind))["claimed_until"] > datetime.now(UTC)
        assert await outbox.dispatch_due() == 0  # another worker finds it held
        finish.set()
        assert await _marked_done_soon(kind, "k")
    assert ran == ["k"]


async def test_a_renewal_racing_a_failure_leaves_the_event_to_its_back_off(
    db: str, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    failure_recorded = anyio.Event()
    record_failure, renew = outbox.update_held, outbox.renew_held

    async def recorded(*args: Any) -> None:
        await record_failure(*args)
        failure_recorded.set()

    async def late_renewal(*args: Any) -> None:  # it took the ids before the failure
        await failure_recorded.wait()
        await renew(*args)

    monkeypatch.setattr(outbox, "update_held", recorded)
    monkeypatch.setattr(outbox, "renew_held", late_renewal)
    async with anyio.create_task_group() as renewals:
        dispatcher: outbox.Dispatcher | None = None

        async def failing(event: outbox.Event) -> None:
            assert dispatcher is not None
            renewals.start_soon(dispatcher.renew_leases)
            await anyio.sleep(0.05)
            raise RuntimeError("provider away")

        outbox.register(kind, failing)
        await outbox.emit(kind, "k", {})
        async with anyio.create_task_group() as tasks:
            dispatcher = outbox.Dispatcher(tasks, limit=10)
            assert await dispatcher.claim() == 1
    row = await _row(kind)
    assert (row["claimed_until"], bool(row["last_error"])) == (None, True)
    assert await outbox.dispatch_due(now=row["available_at"] + timedelta(seconds=1)) == 1


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
    async with running_worker():
        await anyio.sleep(0.2)  # the worker is idle now, for up to 30 s
        await outbox.emit(kind, "k", {})
        outbox.notify()
        with anyio.fail_after(5):
            await done.wait()


async def test_a_batch_runs_at_once_and_one_failure_spares_the_others(db: str, kind: str) -> None:
    started = 0
    all_started = anyio.Event()

    async def wait_for_the_whole_batch(event: outbox.Event) -> None:
        nonlocal started
        started += 1
        if started == 5:
            all_started.set()
        with anyio.fail_after(5):  # run one at a time, the first would wait for ever
            await all_started.wait()
        if event.key == "bad":
            raise ValueError("paper jam")

    outbox.register(kind, wait_for_the_whole_batch)
    for key in ("a", "b", "bad", "c", "d"):
        await outbox.emit(kind, key, {})
    clock = datetime.now(UTC)
    assert await outbox.dispatch_due(now=clock) == 5
    for key in ("a", "b", "c", "d"):
        row = await _row(kind, key)
        assert row["done_at"] is not None
        assert row["last_error"] == ""
    bad = await _row(kind, "bad")
    assert bad["done_at"] is None
    assert "paper jam" in bad["last_error"]
    assert bad["available_at"] > clock


async def test_concurrent_writing_handlers_all_succeed(db: str, kind: str) -> None:
    # On SQLite every handler's write transaction waits for the one writer, never "locked".
    async def read_then_write(event: outbox.Event) -> None:
        async with write_transaction():
            await OutboxEvent.count().where(OutboxEvent.kind == kind)
            await anyio.sleep(0.01)
            await outbox.emit(f"{kind}_next", event.key, {})

    outbox.register(kind, read_then_write)
    for n in range(40):
        await outbox.emit(kind, str(n), {})
    assert await outbox.dispatch_due(batch=40) == 40
    failed = await OutboxEvent.count().where(
        (OutboxEvent.kind == kind) & OutboxEvent.done_at.is_null()
    )
    assert failed == 0
    assert await OutboxEvent.count().where(OutboxEvent.kind == f"{kind}_next") == 40


async def test_events_about_one_thing_run_in_the_order_written(db: str, kind: str) -> None:
    ran: list[str] = []

    async def record(event: outbox.Event) -> None:
        if event.key == "7":
            await anyio.sleep(0.1)  # a slow sale record must still come before its refund
        ran.append(event.key)

    outbox.register(kind, record)
    for key in ("7", "7:refund-1", "8", "7:refund-2"):
        await outbox.emit(kind, key, {})
    assert await outbox.dispatch_due() == 4
    assert [key for key in ran if key.startswith("7")] == ["7", "7:refund-1", "7:refund-2"]
    assert ran.index("8") < ran.index("7")  # another order's event did not wait


async def test_another_kinds_slow_event_keyed_alike_holds_up_nothing(
    db: str, kind: str, other_kind: str
) -> None:
    feed_pull, order_paid = kind, other_kind
    sale_recorded = anyio.Event()

    async def slow_feed(event: outbox.Event) -> None:
        with anyio.move_on_after(3):  # a supplier's feed answering slowly
            await sale_recorded.wait()

    async def record_sale(event: outbox.Event) -> None:
        sale_recorded.set()

    outbox.register(feed_pull, slow_feed)
    outbox.register(order_paid, record_sale)
    await outbox.emit(feed_pull, "3:60:29000000", {})  # supplier 3's pull
    await outbox.emit(order_paid, "3", {})  # order 3's sale
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(outbox.dispatch_due)
        with anyio.fail_after(2):  # not only once the feed gave up
            await sale_recorded.wait()


async def test_kinds_that_share_subjects_run_in_the_order_written(
    db: str, kind: str, other_kind: str
) -> None:
    order_paid, order_refunded = kind, other_kind
    outbox.share_subjects("order", order_paid, order_refunded)
    ran: list[str] = []

    async def record(event: outbox.Event) -> None:
        if event.key == "7":
            await anyio.sleep(0.1)  # a slow sale record must still come before its refund
        ran.append(event.key)

    outbox.register(order_paid, record)
    outbox.register(order_refunded, record)
    await outbox.emit(order_paid, "7", {})
    await outbox.emit(order_refunded, "7:refund-1", {})
    await outbox.emit(order_paid, "8", {})
    assert await outbox.dispatch_due() == 3
    assert ran == ["8", "7", "7:refund-1"]


def test_the_worker_runs_an_orders_events_as_one_subject(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox, "_handlers", {})
    monkeypatch.setattr(outbox, "_families", {})
    register_handlers()

    def subject(kind: str, key: str) -> tuple[str, str]:
        return outbox._subject(outbox.Event(id=1, kind=kind, key=key, payload={}, attempts=1))

    paid = subject(orders.ORDER_PAID, "3")
    assert subject(orders.ORDER_REFUNDED, "3:41") == paid
    assert subject(orders.HOLD_EXPIRY, "3") == paid
    assert subject(feeds.FEED_PULL, "3:60:29000000") != paid


async def test_the_worker_claims_and_finishes_more_while_a_slow_handler_runs(
    db: str, kind: str
) -> None:
    ran: list[str] = []
    fast_done = anyio.Event()

    async def record(event: outbox.Event) -> None:
        if event.key == "slow":
            with anyio.fail_after(5):  # a worker waiting for this batch never claims "fast"
                await fast_done.wait()
        ran.append(event.key)
        if event.key == "fast:refund":
            fast_done.set()

    outbox.register(kind, record)
    async with running_worker():
        await outbox.emit(kind, "slow", {})
        outbox.notify()
        await anyio.sleep(0.3)  # "slow" is claimed and waiting
        await outbox.emit(kind, "fast", {})
        await outbox.emit(kind, "fast:refund", {})
        outbox.notify()
        with anyio.fail_after(5):
            await fast_done.wait()
        assert await _marked_done_soon(kind, "fast:refund")  # while "slow" may still run
    assert ran == ["fast", "fast:refund", "slow"]


async def test_a_subjects_later_event_waits_for_its_earlier_one_across_claims(
    db: str, kind: str
) -> None:
    ran: list[str] = []
    release, other_ran, all_ran = anyio.Event(), anyio.Event(), anyio.Event()

    async def record(event: outbox.Event) -> None:
        if event.key == "7":
            await release.wait()
        ran.append(event.key)
        if event.key == "8":
            other_ran.set()
        if len(ran) == 3:
            all_ran.set()

    outbox.register(kind, record)
    async with running_worker():
        await outbox.emit(kind, "7", {})
        outbox.notify()
        await anyio.sleep(0.3)  # "7" is claimed and running
        await outbox.emit(kind, "7:refund-1", {})
        await outbox.emit(kind, "8", {})
        outbox.notify()
        with anyio.fail_after(5):
            await other_ran.wait()
        await anyio.sleep(0.1)
        assert ran == ["8"]  # claimed, but the refund waits behind its sale
        release.set()
        with anyio.fail_after(5):
            await all_ran.wait()
    assert ran == ["8", "7", "7:refund-1"]
    assert (await _row(kind, "7:refund-1"))["done_at"] is not None


async def test_purging_deletes_only_events_done_before_the_cutoff(db: str, kind: str) -> None:
    async def ok(event: outbox.Event) -> None:
        if event.key == "fails":
            raise RuntimeError("stays to be retried")

    outbox.register(kind, ok)
    for key in ("old-1", "old-2", "old-3", "recent", "fails"):
        await outbox.emit(kind, key, {})
    await outbox.emit(kind, "later", {}, available_at=NOW + timedelta(hours=1))
    assert await outbox.dispatch_due() == 5
    await OutboxEvent.update({OutboxEvent.done_at: NOW - timedelta(days=8)}).where(
        (OutboxEvent.kind == kind) & OutboxEvent.key.like("old-%")
    )
    await OutboxEvent.update({OutboxEvent.dead_at: NOW - timedelta(days=30)}).where(
        (OutboxEvent.kind == kind) & (OutboxEvent.key == "fails")
    )
    assert await outbox.purge_done(NOW - timedelta(days=7), batch=2) == 3
    left = await OutboxEvent.select(OutboxEvent.key).where(OutboxEvent.kind == kind)
    assert sorted(row["key"] for row in left) == ["fails", "later", "recent"]
    assert await outbox.purge_done(NOW - timedelta(days=7)) == 0


async def test_the_purge_loop_purges_at_once_and_stops_when_told(db: str, kind: str) -> None:
    await outbox.emit(kind, "old", {})
    await OutboxEvent.update({OutboxEvent.done_at: NOW - timedelta(days=8)}).where(
        OutboxEvent.kind == kind
    )
    stop = anyio.Event()
    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            group.start_soon(outbox.keep_purging, stop, timedelta(days=7))
            for _ in range(100):
                if not await OutboxEvent.exists().where(OutboxEvent.kind == kind):
                    break
                await anyio.sleep(0.05)
            stop.set()
    assert not await OutboxEvent.exists().where(OutboxEvent.kind == kind)
