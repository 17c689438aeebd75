"""The outbox: effects to run after a commit, written in the same transaction as the change.

`emit` writes a row inside the caller's transaction, so the effect exists exactly when the change
does. Workers run `run_dispatcher` (tests and scripts `dispatch_due`, one claim run to its end):
it claims due rows, runs every handler registered for their kind and marks them done, or makes
them due again later (exponential back-off with jitter); after MAX_ATTEMPTS failures a row is
dead, kept with its last error for people to see. Kinds that settle money are `patient`: a
provider's outage can last hours, and they ride it out for a day before people are needed.
A claim is a lease (`claimed_until`): rows of a worker that crashed come back once it passes,
so a handler may run more than once and must be idempotent by the event's key. An event that
starts late (behind slow ones) renews its lease first, or is skipped once another worker took it;
a worker renews the leases of its handlers still running, however long they take.
Only kinds with a registered handler are claimed: an event waits for its consumer to exist.
Claimed events run CONCURRENCY at a time. Events about the same thing run one after another in
the order they were written, in a worker also across its claims: those of one kind, or of kinds
that `share_subjects` (an order's `order_paid` and its `order_refunded` events), whose keys start
with the same subject, by the keys' convention `<subject>[:<more>]`; other kinds' events never
wait for them (a supplier's slow feed pull holds up no sale). Across workers a handler that needs
another event handled first raises and is retried (a refund waits for its sale's record).
Claiming on PostgreSQL skips rows other workers hold locked, so any number of workers can run;
on SQLite the claim is one write transaction, and one worker is the supported setup.
Done events are kept for a while to look into, then `keep_purging` deletes them: the effects
live in their own tables. Dead events stay until people have dealt with them.
"""

from __future__ import annotations

import json
import secrets
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import anyio
from anyio.abc import TaskGroup

from pos.db.statements import Statement
from pos.events._claims import (
    Claim,
    Event,
    claim_events,
    mark_events_done,
    renew_held,
    still_claimed,
    update_held,
)
from pos.events.signals import Listener, Signal
from pos.events.tables import OutboxEvent
from pos.logs import logger

__all__ = [
    "CONCURRENCY",
    "IN_FLIGHT",
    "LEASE",
    "MAX_ATTEMPTS",
    "PATIENT_ATTEMPTS",
    "Dispatcher",
    "Event",
    "Handler",
    "dispatch_due",
    "emit",
    "handler",
    "keep_purging",
    "notify",
    "patient",
    "purge_done",
    "register",
    "retry_delay",
    "run_dispatcher",
    "share_subjects",
    "unregister",
]

MAX_ATTEMPTS = 8  # about 10 minutes of back-off
PATIENT_ATTEMPTS = 40  # 15 to 30 hours: after the tenth, one try an hour
# Handlers mostly wait on the database, where more at once only queue for the same rows and
# locks: at checkout, 16 gave 5 % fewer paid orders/s than 8 (4 was no better than 8).
CONCURRENCY = 8
# A worker keeps up to IN_FLIGHT events claimed, so handlers never wait for a claim, and claims
# again once REFILL of them finished: a claim per finished event would cost more than the events.
IN_FLIGHT = 2 * CONCURRENCY
REFILL = CONCURRENCY // 2
LEASE = timedelta(minutes=5)
BACKOFF_FIRST = timedelta(seconds=5)
BACKOFF_LONGEST = timedelta(hours=1)
PURGE_EVERY = timedelta(hours=1)
PURGE_BATCH = 5_000  # rows per DELETE: each is its own short transaction
_ERROR_CHARS = 2000

_O = OutboxEvent


Handler = Callable[[Event], Awaitable[None]]
HandlerT = TypeVar("HandlerT", bound=Handler)

_handlers: dict[str, list[Handler]] = {}
_families: dict[str, str] = {}  # kind -> the family whose subjects it shares
_patient: set[str] = set()
_signal = Signal()


def register(kind: str, fn: Handler) -> None:
    """Run `fn` for every event of `kind` (registering the same function twice changes nothing)."""
    handlers = _handlers.setdefault(kind, [])
    if fn not in handlers:
        handlers.append(fn)


def unregister(kind: str, fn: Handler) -> None:
    """Stop running `fn` for `kind`."""
    handlers = _handlers.get(kind, [])
    if fn in handlers:
        handlers.remove(fn)
    if not handlers:
        _handlers.pop(kind, None)


def handler(kind: str) -> Callable[[HandlerT], HandlerT]:
    """Decorator form of `register`."""

    def decorate(fn: HandlerT) -> HandlerT:
        register(kind, fn)
        return fn

    return decorate


def share_subjects(family: str, *kinds: str) -> None:
    """Run the events of `kinds` in the order written when their keys start with one subject.

    For kinds whose keys name things of the same `family`: an order's `order_paid` is keyed
    `<order id>` and its `order_refunded` `<order id>:<refund>`. A kind not declared is a family
    of its own.
    """
    for kind in kinds:
        _families[kind] = family


def patient(*kinds: str) -> None:
    """Retry failed events of `kinds` PATIENT_ATTEMPTS times, not MAX_ATTEMPTS, before they die."""
    _patient.update(kinds)


def _attempts_allowed(kind: str) -> int:
    return PATIENT_ATTEMPTS if kind in _patient else MAX_ATTEMPTS


# Hand-written: several are written per order. The constants are OutboxEvent's defaults, and
# the columns left out are NULL.
_EMIT = Statement(
    "INSERT INTO outbox_event (kind, key, payload, available_at, attempts, last_error,"
    " claimed_by, created_at) VALUES ({}, {}, {}, {}, 0, '', '', {})"
    " ON CONFLICT (kind, key) DO NOTHING"
)


async def emit(
    kind: str, key: str, payload: dict[str, Any], *, available_at: datetime | None = None
) -> None:
    """Write an event in the caller's transaction; one with the same (kind, key) is a no-op."""
    now = datetime.now(UTC)
    text = json.dumps(payload, ensure_ascii=False)
    await _EMIT.rows(kind, key, text, available_at or now, now)


def notify() -> None:
    """Wake this process's idle workers; call after committing an event due now."""
    _signal.notify()


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failure: doubling, capped, with 50-100 % jitter."""
    doubled: timedelta = BACKOFF_FIRST * 2 ** min(attempts - 1, 20)
    jitter = 0.5 + secrets.randbelow(501) / 1000
    return min(doubled, BACKOFF_LONGEST) * jitter


async def dispatch_due(batch: int = 50, *, now: datetime | None = None) -> int:
    """Claim up to `batch` due events and run them to the end; returns how many were claimed."""
    async with anyio.create_task_group() as tasks:
        dispatcher = Dispatcher(tasks, limit=batch)
        claimed = await dispatcher.claim(now)
    await dispatcher.mark_done()
    return claimed


async def run_dispatcher(stop: anyio.Event, idle_seconds: float) -> None:
    """Run due events until `stop` is set, claiming more while handlers run; see `Dispatcher`."""
    with _signal.listen() as woken:
        async with anyio.create_task_group() as marking:
            async with anyio.create_task_group() as tasks:
                dispatcher = Dispatcher(tasks, limit=IN_FLIGHT)
                marking.start_soon(dispatcher.keep_marking_done)
                marking.start_soon(dispatcher.keep_leases)
                tasks.start_soon(dispatcher.wake_on, stop, woken)
                await dispatcher.claim_until(stop, woken, idle_seconds)
            marking.cancel_scope.cancel()
        await dispatcher.mark_done()


class Dispatcher:
    """Runs claimed events, CONCURRENCY at a time and at most `limit` claimed at once.

    Events about one subject (`_subject`) run one after another in the order claimed, also
    across claims. In the worker (`claim_until`) a slow handler holds up nothing: more events
    are claimed as soon as REFILL of them have finished, and those that succeeded are marked
    done together.
    """

    def __init__(self, tasks: TaskGroup, *, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0
        self._tasks = tasks
        self._slots = anyio.CapacityLimiter(CONCURRENCY)
        self._subjects: dict[tuple[str, str], deque[tuple[Event, Claim]]] = {}
        self._running: dict[int, str] = {}  # event id, claim token
        self._done: list[tuple[int, str]] = []  # event id, claim token
        self._finished = Listener()
        self._succeeded = Listener()

    async def claim(self, now: datetime | None = None) -> int:
        """Claim as many due events as there is room for and start them; how many."""
        kinds = sorted(_handlers)
        room = self.limit - self.in_flight
        if not kinds or room <= 0:
            return 0
        claim = Claim(secrets.token_hex(8), now or datetime.now(UTC))
        events = await claim_events(kinds, room, claim, LEASE)
        for event in events:
            self._start(event, claim)
        return len(events)

    async def claim_until(self, stop: anyio.Event, woken: Listener, idle_seconds: float) -> None:
        """Claim whenever there is room and maybe due events: after a full claim or a wake-up."""
        more = True
        while not stop.is_set():
            if not more:
                await woken.wait(idle_seconds)
                more = True
            elif self.limit - self.in_flight < min(REFILL, self.limit):
                await self._finished.wait(idle_seconds)
            else:
                room = self.limit - self.in_flight
                more = await self._claim_or_log() == room

    async def wake_on(self, stop: anyio.Event, woken: Listener) -> None:
        """Once `stop` is set, end the waits of `claim_until`."""
        await stop.wait()
        woken.set()
        self._finished.set()

    async def mark_done(self) -> None:
        """Mark the events that succeeded so far done, in one UPDATE (SQLite: one per claim)."""
        done, self._done = self._done, []
        if done:
            await mark_events_done(done)

    async def keep_marking_done(self) -> None:
        """Mark events done as they succeed: what succeeds during one UPDATE goes in the next."""
        while True:
            await self._succeeded.wait(LEASE.total_seconds())
            try:
                with anyio.CancelScope(shield=True):  # a stop must not lose the ids taken
                    await self.mark_done()
            except Exception:  # the database is away: the rows run again after their lease
                logger.exception("outbox: marking events done failed")

    async def keep_leases(self) -> None:
        """Renew the leases of the handlers still running, a few times a lease."""
        while True:
            await anyio.sleep(LEASE.total_seconds() / 3)
            try:
                await self.renew_leases()
            except Exception:  # the database is away: renewed next time, if the lease holds
                logger.exception("outbox: renewing leases failed")

    async def renew_leases(self) -> None:
        """Extend to a full LEASE from now the claims of the handlers still running."""
        until = datetime.now(UTC) + LEASE
        for token in set(self._running.values()):
            ids = [id_ for id_, claimed_by in self._running.items() if claimed_by == token]
            await renew_held(ids, token, until)

    async def _claim_or_log(self) -> int:
        try:
            return await self.claim()
        except Exception:  # e.g. the database is away for a moment: log, wait, try again
            logger.exception("outbox: claiming failed")
            return 0

    def _start(self, event: Event, claim: Claim) -> None:
        self.in_flight += 1
        subject = _subject(event)
        if subject in self._subjects:
            self._subjects[subject].append((event, claim))
        else:
            self._subjects[subject] = deque([(event, claim)])
            self._tasks.start_soon(self._run_subject, subject)

    async def _run_subject(self, subject: tuple[str, str]) -> None:
        queue = self._subjects[subject]
        while queue:
            event, claim = queue.popleft()
            try:
                async with self._slots:
                    succeeded = await self._run_held(event, claim)
            # Raising would cancel the other handlers mid-transaction; the lease expires.
            except Exception:
                logger.exception(
                    "outbox: renewing a lease or recording a failure failed", event_id=event.id
                )
                succeeded = False
            if succeeded:
                self._done.append((event.id, claim.token))
                self._succeeded.set()
            self.in_flight -= 1
            self._finished.set()
        del self._subjects[subject]

    async def _run_held(self, event: Event, claim: Claim) -> bool:
        if not await still_claimed(event, claim, LEASE):
            return False
        self._running[event.id] = claim.token
        try:
            return await _run(event, claim)
        finally:
            del self._running[event.id]


def _subject(event: Event) -> tuple[str, str]:
    """What the event is about: its kind's family and the subject its key starts with."""
    return _families.get(event.kind, event.kind), event.key.partition(":")[0]


_PURGE = Statement(
    "DELETE FROM outbox_event WHERE id IN"
    " (SELECT id FROM outbox_event WHERE done_at < {} ORDER BY id LIMIT {}) RETURNING id"
)


async def purge_done(before: datetime, *, batch: int = PURGE_BATCH) -> int:
    """Delete the events done before `before`, `batch` rows a statement; how many went."""
    purged = 0
    while deleted := len(await _PURGE.rows(before, batch)):
        purged += deleted
        if deleted < batch:
            break
    return purged


async def keep_purging(stop: anyio.Event, keep: timedelta) -> None:
    """Every PURGE_EVERY until `stop` is set, delete the events done more than `keep` ago."""
    while not stop.is_set():
        try:
            purged = await purge_done(datetime.now(UTC) - keep)
            if purged:
                logger.info("outbox: purged done events", count=purged)
        except Exception:  # the database is away for a moment: the next round deletes them
            logger.exception("outbox: purging done events failed")
        with anyio.move_on_after(PURGE_EVERY.total_seconds()):
            await stop.wait()


async def _run(event: Event, claim: Claim) -> bool:
    """Run the event's handlers; False (and the failure recorded) when one of them failed."""
    # Every handler runs even when another fails (a platform outage must not stop receipts);
    # the event is retried as a whole, which is safe because handlers are idempotent.
    errors = []
    for fn in list(_handlers.get(event.kind, ())):
        try:
            await fn(event)
        except Exception as exc:  # retried later; the worker carries on
            errors.append(f"{fn.__qualname__}: {type(exc).__name__}: {exc}")
    if errors:
        await _failed(event, claim, "; ".join(errors)[:_ERROR_CHARS])
    return not errors


async def _failed(event: Event, claim: Claim, error: str) -> None:
    log = logger.bind(event_id=event.id, kind=event.kind, key=event.key, attempts=event.attempts)
    # From the failure, not the claim: handlers may have run for longer than the back-off. A
    # claim's `now` still counts when it is later (`dispatch_due(now=...)` runs the future).
    now = max(datetime.now(UTC), claim.now)
    if event.attempts >= _attempts_allowed(event.kind):
        log.error("outbox: event is dead", error=error)
        values: dict[Any, Any] = {_O.dead_at: now}
    else:
        delay = retry_delay(event.attempts)
        log.warning("outbox: handler failed, retrying", error=error, in_s=delay.total_seconds())
        values = {_O.available_at: now + delay}
    values |= {_O.last_error: error, _O.claimed_until: None}
    await update_held([event.id], claim.token, values)
