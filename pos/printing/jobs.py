"""The print queue's rows: which job each printer sends next, claiming it, recording the outcome.

Each printer prints its unfinished jobs (queued, sending, waiting) strictly oldest first: only a
printer's oldest unfinished job, its head, is ever claimed, so a later receipt never overtakes
one waiting for paper. Nor is a head claimed while another job of its printer is sending under
a lease (a failed job that staff retry is the head again, maybe while a later one prints): a
printer gets one job at a time. A claim marks the head `sending` under a lease in one short
transaction; the outcome is written in another, only while the claim still holds. A sender
that dies between the two leaves the job `sending`; once the lease passes the next sender
prints it again (at-least-once: a receipt printed twice beats a sale without one), marked as
a reprint so the second paper copy cannot pass for the original.
On PostgreSQL a claim first locks its heads' printers, skipping those another sender is
claiming for: under READ COMMITTED the check that no other job of a printer is sending cannot
see a claim still in flight, so two senders could each claim a job of one printer (a retried
head and the job behind it). On SQLite the claim is one write transaction, and one worker is
the supported setup.
"""

from __future__ import annotations

import functools
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from piccolo.engine.sqlite import SQLiteEngine

from pos.db import (
    Statement,
    current_engine,
    insert_new,
    new_row_columns,
    placeholders,
    write_transaction,
)
from pos.events.signals import Signal
from pos.printing.tables import PrinterState, PrintJob
from printers import PrinterStatus

__all__ = [
    "PRINT_JOBS",
    "UNFINISHED",
    "ClaimedJob",
    "claim_due",
    "due_heads",
    "finish",
    "save_status",
]

UNFINISHED = ("queued", "sending", "waiting")
_LONG_AGO = datetime.min.replace(tzinfo=UTC)
# Wakes the senders of this process: notify after committing a job, or finishing one.
PRINT_JOBS = Signal()


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job this sender holds: what to print, where, and the claim that guards its outcome."""

    id: int
    printer_id: int
    connection_url: str
    paper_width_mm: int
    document: dict[str, Any]
    attempts: int
    maybe_printed: bool  # an earlier send of it may be on the paper: print it as a reprint
    claim: str


def due_heads(
    heads: Sequence[dict[str, Any]], now: datetime, limit: int | None = None
) -> list[int]:
    """Ids of the given heads (each printer's oldest unfinished job) due now, longest due first.

    At most `limit` of them (None: all).
    """
    due = sorted((row for row in heads if _due(row, now)), key=_due_since)
    return [row["id"] for row in due[:limit]]


def _due(row: dict[str, Any], now: datetime) -> bool:
    if row["state"] == "sending":
        return row["lease_until"] is None or row["lease_until"] < now
    return bool(row["next_attempt_at"] <= now)


def _due_since(row: dict[str, Any]) -> tuple[datetime, int]:
    if row["state"] == "sending":
        return row["lease_until"] or _LONG_AGO, row["id"]
    return row["next_attempt_at"], row["id"]


# Only the heads are read: a printer out of paper may have a long queue behind its head.
_HEADS = Statement(
    "SELECT id, printer, state, next_attempt_at, lease_until FROM print_job WHERE id IN"
    " (SELECT MIN(id) FROM print_job WHERE state IN ('queued', 'sending', 'waiting')"
    " GROUP BY printer)"
)
# A job claimed again while `sending` had a sender stop mid-send: it may be on the paper already.
_SENDING = (
    "maybe_printed = (maybe_printed OR state = 'sending'),"
    " state = 'sending', claimed_by = {}, lease_until = {}"
)
# Checked again as the row is written: another sender may have claimed or finished it meanwhile,
# or still be sending another job of its printer (a job staff retry is the head again).
_CLAIMABLE = (
    "((state IN ('queued', 'waiting') AND next_attempt_at <= {})"
    " OR (state = 'sending' AND (lease_until IS NULL OR lease_until < {})))"
    " AND NOT EXISTS (SELECT 1 FROM print_job busy WHERE busy.printer = print_job.printer"
    " AND busy.id <> print_job.id AND busy.state = 'sending' AND busy.lease_until >= {})"
)
_CLAIMED_COLUMNS = (
    "j.id, j.printer AS printer_id, p.connection_url, p.paper_width_mm, j.document, j.attempts,"
    " j.maybe_printed"
)
# The heads whose printers this transaction now holds (NO KEY: new jobs may still be inserted).
_LOCK_PRINTERS = Statement(
    "SELECT j.id FROM print_job j JOIN printer p ON p.id = j.printer WHERE j.id = ANY({})"
    " FOR NO KEY UPDATE OF p SKIP LOCKED"
)
_CLAIM = Statement(
    f"WITH j AS (UPDATE print_job SET {_SENDING} WHERE id = ANY({{}})"  # noqa: S608 (constant text)
    f" AND ({_CLAIMABLE}) RETURNING id, printer, document, attempts, maybe_printed)"
    f" SELECT {_CLAIMED_COLUMNS} FROM j JOIN printer p ON p.id = j.printer"
)
_CLAIMED = Statement(
    f"SELECT {_CLAIMED_COLUMNS} FROM print_job j JOIN printer p ON p.id = j.printer"  # noqa: S608
    " WHERE j.claimed_by = {} AND j.state = 'sending'"
)


async def claim_due(
    lease: timedelta, now: datetime | None = None, *, limit: int | None = None
) -> list[ClaimedJob]:
    """Mark the printers' due heads `sending` under a new lease and return them.

    At most `limit` of them (None: all), those due longest first.
    """
    moment = now or datetime.now(UTC)
    ids = due_heads(await _HEADS.rows(), moment, limit)
    if not ids:
        return []
    claim = secrets.token_hex(8)
    if isinstance(current_engine(), SQLiteEngine):
        rows = await _claim_on_sqlite(ids, claim, moment + lease, moment)
    else:
        rows = await _claim_on_postgres(ids, claim, moment + lease, moment)
    return [ClaimedJob(**_with_json(row), claim=claim) for row in rows]


async def _claim_on_postgres(
    ids: list[int], claim: str, until: datetime, now: datetime
) -> list[dict[str, Any]]:
    # The claim is a statement of its own: its snapshot, taken once the printers are held,
    # sees every earlier claim of theirs committed.
    async with write_transaction():
        locked = [row["id"] for row in await _LOCK_PRINTERS.rows(ids)]
        claimed: list[dict[str, Any]] = await _CLAIM.rows(claim, until, locked, now, now, now)
    return claimed


async def _claim_on_sqlite(
    ids: list[int], claim: str, until: datetime, now: datetime
) -> list[dict[str, Any]]:
    claim_heads = Statement(
        f"UPDATE print_job SET {_SENDING} WHERE id IN ({placeholders(len(ids))})"  # noqa: S608
        f" AND ({_CLAIMABLE})"
    )
    async with write_transaction():
        await claim_heads.rows(claim, until, *ids, now, now, now)
        claimed: list[dict[str, Any]] = await _CLAIMED.rows(claim)
    return claimed


def _with_json(row: dict[str, Any]) -> dict[str, Any]:
    document = row["document"]
    return {
        **row,
        "document": json.loads(document) if isinstance(document, str) else document,
        "maybe_printed": bool(row["maybe_printed"]),  # SQLite: 0 or 1
    }


async def finish(job: ClaimedJob, changes: dict[Any, Any]) -> bool:
    """Write the outcome of a claimed job; False when its claim no longer held."""
    values = {**changes, PrintJob.lease_until: None}
    finishing = _finishing(tuple(column._meta.db_column_name for column in values))
    rows = await finishing.rows(*values.values(), job.id, job.claim)
    return bool(rows)


# Hand-written: run for every receipt, where Piccolo's query building cost more than the query.
# One per set of columns an outcome changes (a handful: see `RetryPolicy.outcome`).
@functools.lru_cache(maxsize=16)
def _finishing(columns: tuple[str, ...]) -> Statement:
    """The update of a job's `columns` that holds only while the claim does."""
    changes = ", ".join(f'"{column}" = {{}}' for column in columns)
    return Statement(
        f"UPDATE print_job SET {changes}"  # noqa: S608 (column names)
        " WHERE id = {} AND claimed_by = {} AND state = 'sending' RETURNING id"
    )


# A printer has one status row: a new answer overwrites the last.
_REPLACE_STATUS = "ON CONFLICT (printer) DO UPDATE SET " + ", ".join(
    f'"{name}" = EXCLUDED."{name}"' for name in new_row_columns(PrinterState) if name != "printer"
)


async def save_status(printer_id: int, status: PrinterStatus, now: datetime | None = None) -> None:
    """Remember what the printer last reported, for staff."""
    row = PrinterState(
        printer=printer_id,
        online=status.online,
        paper_out=status.paper_out,
        cover_open=status.cover_open,
        paper_near_end=status.paper_near_end,
        error=status.error or "",
        checked_at=now or datetime.now(UTC),
    )
    await insert_new([row], _REPLACE_STATUS)
