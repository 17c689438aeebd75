"""The outbox: effects to run after a commit, written in the same transaction as the change.

`emit` writes a row inside the caller's transaction, so the effect exists exactly when the change
does. Workers call `dispatch_due`: it claims due rows, runs every handler registered for their
kind and marks them done, or makes them due again later (exponential back-off with jitter);
after MAX_ATTEMPTS failures a row is dead, kept with its last error for people to see.
A claim is a lease (`claimed_until`): rows of a worker that crashed come back once it passes,
so a handler may run more than once and must be idempotent by the event's key.
Only kinds with a registered handler are claimed: an event waits for its consumer to exist.
Claiming on PostgreSQL skips rows other workers hold locked, so any number of workers can run;
on SQLite the claim is one write transaction, and one worker is the supported setup.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import anyio
from piccolo.engine.sqlite import SQLiteEngine

from pos.db import current_engine, write_transaction
from pos.events.tables import OutboxEvent
from pos.logs import logger

__all__ = [
    "LEASE",
    "MAX_ATTEMPTS",
    "Event",
    "Handler",
    "dispatch_due",
    "emit",
    "handler",
    "notify",
    "register",
    "retry_delay",
    "unregister",
    "wait_for_notify",
]

MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=5)
BACKOFF_FIRST = timedelta(seconds=5)
BACKOFF_LONGEST = timedelta(hours=1)
_ERROR_CHARS = 2000

_O = OutboxEvent


@dataclass(frozen=True, slots=True)
class Event:
    """A claimed event as a handler sees it; `attempts` counts this one."""

    id: int
    kind: str
    key: str
    payload: dict[str, Any]
    attempts: int


Handler = Callable[[Event], Awaitable[None]]
HandlerT = TypeVar("HandlerT", bound=Handler)

_handlers: dict[str, list[Handler]] = {}
_waiters: set[anyio.Event] = set()


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


async def emit(
    kind: str, key: str, payload: dict[str, Any], *, available_at: datetime | None = None
) -> None:
    """Write an event in the caller's transaction; one with the same (kind, key) is a no-op."""
    row = _O(
        kind=kind,
        key=key,
        payload=json.dumps(payload, ensure_ascii=False),
        available_at=available_at or datetime.now(UTC),
    )
    await _O.insert(row).on_conflict(action="DO NOTHING")


def notify() -> None:
    """Wake this process's idle workers; call after committing an event due now."""
    for waiter in _waiters:
        waiter.set()


async def wait_for_notify(seconds: float) -> None:
    """Wait until `notify` is called, for at most `seconds`."""
    waiter = anyio.Event()
    _waiters.add(waiter)
    try:
        with anyio.move_on_after(seconds):
            await waiter.wait()
    finally:
        _waiters.discard(waiter)


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failure: doubling, capped, with 50-100 % jitter."""
    doubled: timedelta = BACKOFF_FIRST * 2 ** min(attempts - 1, 20)
    jitter = 0.5 + secrets.randbelow(501) / 1000
    return min(doubled, BACKOFF_LONGEST) * jitter


async def dispatch_due(batch: int = 50, *, now: datetime | None = None) -> int:
    """Claim up to `batch` due events and run their handlers; returns how many were claimed."""
    kinds = sorted(_handlers)
    moment = now or datetime.now(UTC)
    if not kinds:
        return 0
    claim = secrets.token_hex(8)
    events = await _claim(kinds, batch, moment, claim)
    for event in events:
        await _run(event, claim, moment)
    return len(events)


def _due(kinds: list[str], now: datetime) -> Any:
    return (
        _O.kind.is_in(kinds)
        & _O.done_at.is_null()
        & _O.dead_at.is_null()
        & (_O.available_at <= now)
        & (_O.claimed_until.is_null() | (_O.claimed_until < now))
    )


async def _claim(kinds: list[str], batch: int, now: datetime, claim: str) -> list[Event]:
    # A plain read first: an idle worker must not take SQLite's write lock every poll.
    if not await _O.exists().where(_due(kinds, now)):
        return []
    async with write_transaction():
        select = _O.select(_O.id).where(_due(kinds, now)).order_by(_O.available_at).limit(batch)
        if not isinstance(current_engine(), SQLiteEngine):
            select = select.lock_rows(skip_locked=True)
        ids = [row["id"] for row in await select]
        if not ids:
            return []
        rows = (
            await _O.update(
                {_O.claimed_by: claim, _O.claimed_until: now + LEASE, _O.attempts: _O.attempts + 1}
            )
            .where(_O.id.is_in(ids))
            .returning(_O.id, _O.kind, _O.key, _O.payload, _O.attempts)
        )
    return sorted((_event(row) for row in rows), key=lambda event: event.id)


def _event(row: dict[str, Any]) -> Event:
    payload = row["payload"]
    return Event(
        id=row["id"],
        kind=row["kind"],
        key=row["key"],
        payload=json.loads(payload) if isinstance(payload, str) else payload,
        attempts=row["attempts"],
    )


async def _run(event: Event, claim: str, now: datetime) -> None:
    # Every handler runs even when another fails (a platform outage must not stop receipts);
    # the event is retried as a whole, which is safe because handlers are idempotent.
    errors = []
    for fn in list(_handlers.get(event.kind, ())):
        try:
            await fn(event)
        except Exception as exc:  # retried later; the worker carries on
            errors.append(f"{fn.__qualname__}: {type(exc).__name__}: {exc}")
    if errors:
        await _failed(event, claim, now, "; ".join(errors)[:_ERROR_CHARS])
        return
    await _finish(event, claim, {_O.done_at: datetime.now(UTC), _O.claimed_until: None})


async def _failed(event: Event, claim: str, now: datetime, error: str) -> None:
    log = logger.bind(event_id=event.id, kind=event.kind, key=event.key, attempts=event.attempts)
    if event.attempts >= MAX_ATTEMPTS:
        log.error("outbox: event is dead", error=error)
        values: dict[Any, Any] = {_O.dead_at: now}
    else:
        delay = retry_delay(event.attempts)
        log.warning("outbox: handler failed, retrying", error=error, in_s=delay.total_seconds())
        values = {_O.available_at: now + delay}
    await _finish(event, claim, {**values, _O.last_error: error, _O.claimed_until: None})


async def _finish(event: Event, claim: str, values: dict[Any, Any]) -> None:
    # Only while our claim holds: after the lease another worker may own the row.
    await _O.update(values).where((_O.id == event.id) & (_O.claimed_by == claim))
