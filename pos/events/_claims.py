"""The outbox's rows as claims: taking due events under a lease, holding them, letting go.

A claim is a token and a lease (`claimed_until`): a row is written only while its claim holds,
as after the lease another worker may own it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from piccolo.engine.sqlite import SQLiteEngine

from pos.db import current_engine, write_transaction
from pos.db.statements import Statement
from pos.events.tables import OutboxEvent
from pos.logs import logger

__all__ = [
    "Claim",
    "Event",
    "claim_events",
    "mark_events_done",
    "renew_held",
    "still_claimed",
    "update_held",
]

_O = OutboxEvent


@dataclass(frozen=True, slots=True)
class Event:
    """A claimed event as a handler sees it; `attempts` counts this one."""

    id: int
    kind: str
    key: str
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True, slots=True)
class Claim:
    """One claim of events: its token, and the moment it was made."""

    token: str
    now: datetime


def _due(kinds: list[str], now: datetime) -> Any:
    return (
        _O.kind.is_in(kinds)
        & _O.done_at.is_null()
        & _O.dead_at.is_null()
        & (_O.available_at <= now)
        & (_O.claimed_until.is_null() | (_O.claimed_until < now))
    )


# PostgreSQL claims in one statement, skipping rows other workers hold: no transaction to open.
_CLAIM = Statement(
    "UPDATE outbox_event SET claimed_by = {}, claimed_until = {}, attempts = attempts + 1"
    " WHERE id IN (SELECT id FROM outbox_event WHERE kind = ANY({}) AND done_at IS NULL"
    " AND dead_at IS NULL AND available_at <= {} AND (claimed_until IS NULL OR claimed_until < {})"
    " ORDER BY available_at LIMIT {} FOR UPDATE SKIP LOCKED)"
    " RETURNING id, kind, key, payload, attempts"
)

# Each row only while its own claim holds: after the lease another worker may own it.
_MARK_DONE = Statement(
    "UPDATE outbox_event SET done_at = {}, claimed_until = NULL"
    " FROM unnest({}::integer[], {}::text[]) AS done (id, claim)"
    " WHERE outbox_event.id = done.id AND outbox_event.claimed_by = done.claim"
)


async def claim_events(kinds: list[str], batch: int, claim: Claim, lease: timedelta) -> list[Event]:
    """Up to `batch` due events of `kinds`, held by `claim` for `lease`; oldest first."""
    now = claim.now
    if isinstance(current_engine(), SQLiteEngine):
        rows = await _claim_on_sqlite(kinds, batch, now, claim.token, now + lease)
    else:
        rows = await _CLAIM.rows(claim.token, now + lease, kinds, now, now, batch)
    return sorted((_event(row) for row in rows), key=lambda event: event.id)


async def _claim_on_sqlite(
    kinds: list[str], batch: int, now: datetime, claim: str, until: datetime
) -> list[dict[str, Any]]:
    # A plain read first: an idle worker must not take SQLite's write lock every poll.
    if not await _O.exists().where(_due(kinds, now)):
        return []
    async with write_transaction():
        select = _O.select(_O.id).where(_due(kinds, now)).order_by(_O.available_at).limit(batch)
        ids = [row["id"] for row in await select]
        if not ids:
            return []
        rows: list[dict[str, Any]] = (
            await _O.update(
                {_O.claimed_by: claim, _O.claimed_until: until, _O.attempts: _O.attempts + 1}
            )
            .where(_O.id.is_in(ids))
            .returning(_O.id, _O.kind, _O.key, _O.payload, _O.attempts)
        )
    return rows


def _event(row: dict[str, Any]) -> Event:
    payload = row["payload"]
    return Event(
        id=row["id"],
        kind=row["kind"],
        key=row["key"],
        payload=json.loads(payload) if isinstance(payload, str) else payload,
        attempts=row["attempts"],
    )


async def still_claimed(event: Event, claim: Claim, lease: timedelta) -> bool:
    """Whether `claim` still holds `event`, renewing the lease of one that starts late.

    An event may wait behind slow ones of its subject until its lease has passed, and another
    worker may have claimed it meanwhile: then that worker runs it, not this one.
    """
    now = datetime.now(UTC)
    # Events mostly start at once, well within their lease: no write for them.
    if claim.now + lease - now > lease / 2:
        return True
    renewed = (
        await _O.update({_O.claimed_until: now + lease})
        .where((_O.id == event.id) & (_O.claimed_by == claim.token))
        .returning(_O.id)
    )
    if not renewed:
        logger.warning(
            "outbox: the lease passed while the event waited, another worker has it",
            event_id=event.id,
            kind=event.kind,
            key=event.key,
        )
    return bool(renewed)


async def mark_events_done(done: list[tuple[int, str]]) -> None:
    """Mark events done, each (id, claim token) only while its claim holds."""
    now = datetime.now(UTC)
    if not isinstance(current_engine(), SQLiteEngine):
        await _MARK_DONE.rows(now, [id_ for id_, _ in done], [token for _, token in done])
        return
    for token in {token for _, token in done}:
        ids = [id_ for id_, claimed_by in done if claimed_by == token]
        await update_held(ids, token, {_O.done_at: now, _O.claimed_until: None})


async def update_held(ids: list[int], claim: str, values: dict[Any, Any]) -> None:
    """Write `values` to the events `claim` still holds among `ids`."""
    if ids:
        await _O.update(values).where(_O.id.is_in(ids) & (_O.claimed_by == claim))


async def renew_held(ids: list[int], claim: str, until: datetime) -> None:
    """Extend to `until` the leases `claim` holds among `ids`, but not those let go meanwhile.

    A handler that failed or finished while the renewal was on its way has its lease cleared
    already: renewing it would hold a failed event past its back-off.
    """
    if ids:
        await _O.update({_O.claimed_until: until}).where(
            _O.id.is_in(ids) & (_O.claimed_by == claim) & _O.claimed_until.is_not_null()
        )
