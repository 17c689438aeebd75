"""What the outbox holds for people: its backlog, the events not done or given up on, retries.

An event is dead after MAX_ATTEMPTS failures (PATIENT_ATTEMPTS for `patient` kinds) and waits,
with its last error, until the cause is fixed (a printer back on the network, a fix deployed)
and someone retries it: it is then due at once with its attempts counted afresh. Handlers are
idempotent by the event's key, so running one again is safe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from piccolo.columns import Column

from pos.db import MAX_ROW_ID
from pos.events.outbox import Event
from pos.events.tables import OutboxEvent

__all__ = [
    "DeadEvent",
    "OutboxStatus",
    "dead_events",
    "outbox_status",
    "retry",
    "unfinished_events",
]

_O = OutboxEvent


@dataclass(frozen=True, slots=True)
class DeadEvent:
    """An event the outbox gave up on."""

    id: int
    kind: str
    key: str
    attempts: int
    last_error: str
    created_at: datetime
    dead_at: datetime


@dataclass(frozen=True, slots=True)
class OutboxStatus:
    """Events due now (and since when the oldest waits), waiting for later, and dead."""

    due: int
    oldest_due_at: datetime | None
    waiting: int
    dead: int


async def outbox_status(now: datetime | None = None) -> OutboxStatus:
    """How many events are due, waiting and dead."""
    moment = now or datetime.now(UTC)
    still_to_run = _O.done_at.is_null() & _O.dead_at.is_null()
    due = still_to_run & (_O.available_at <= moment)
    oldest = await _O.select(_O.available_at).where(due).order_by(_O.available_at).first()
    return OutboxStatus(
        due=await _O.count().where(due),
        oldest_due_at=oldest["available_at"] if oldest else None,
        waiting=await _O.count().where(still_to_run & (_O.available_at > moment)),
        dead=await _O.count().where(_O.dead_at.is_not_null()),
    )


async def dead_events(kind: str | None = None, limit: int = 100) -> list[DeadEvent]:
    """The dead events (of `kind`, if given), the latest to die first."""
    rows = (
        await _O.select(
            _O.id, _O.kind, _O.key, _O.attempts, _O.last_error, _O.created_at, _O.dead_at
        )
        .where(_dead(kind))
        .order_by(_O.dead_at, ascending=False)
        .limit(limit)
    )
    return [DeadEvent(**row) for row in rows]


async def unfinished_events(kind: str, start: datetime, end: datetime) -> list[Event]:
    """The events of `kind` written from `start` until `end` and not done: due, waiting or dead."""
    written = (_O.created_at >= start) & (_O.created_at < end)
    rows = (
        await _O.select(_O.id, _O.kind, _O.key, _O.payload, _O.attempts)
        .where((_O.kind == kind) & _O.done_at.is_null() & written)
        .output(load_json=True)
    )
    return [Event(**row) for row in rows]


async def retry(ids: Sequence[int] | None = None, *, kind: str | None = None) -> int:
    """Make dead events due again: those with `ids`, else those of `kind`, else all; how many."""
    where = _dead(kind)
    if ids is not None:
        # An id no row can have would fail the query on PostgreSQL, not match nothing.
        where &= _O.id.is_in([id_ for id_ in ids if 1 <= id_ <= MAX_ROW_ID] or [-1])
    again: dict[Column | str, Any] = {
        _O.dead_at: None,
        _O.attempts: 0,
        _O.available_at: datetime.now(UTC),
        _O.claimed_until: None,
    }
    return len(await _O.update(again).where(where).returning(_O.id))


def _dead(kind: str | None) -> Any:
    dead = _O.dead_at.is_not_null()
    return dead if kind is None else dead & (_O.kind == kind)
