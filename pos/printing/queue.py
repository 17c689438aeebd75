"""The sender: delivers each printer's jobs in order, blocking sends in threads, with retries.

Outcomes (policy in `RetryPolicy.outcome`):
- printed: the printer took the bytes after reporting itself ready;
- waiting: it answered but cannot print (paper out, cover open, offline); asked again every
  `print_recheck_s` with the status check every send starts with; never gives up, never counts;
- queued again: it could not be reached, or what answered is no printer (its status reply is
  not one); retried after a doubling delay with jitter, and `failed` after
  `print_max_attempts` such sends, for staff to retry. A send cut short while writing may have
  printed: the job's later sends print as reprints;
- failed at once: its URL or profile is wrong, a driver is missing, or the service may not
  open its device (a group or udev rule to add), which no retry fixes.
A sender holds at most `SENDS_AT_ONCE` claimed jobs and sends them in threads of its own
(a limiter that size, not anyio's shared default): a claimed job left waiting for a thread would
let its lease pass, be claimed again and print twice.
What the printer said is saved for staff after each send, unless it is what this sender saved
for that printer less than `STATUS_REWRITE` ago: a busy printer costs no write per receipt,
and its `checked_at` is at most that old. A printed send tells only that the printer was
ready, so it keeps the "paper near end" this sender last saved (until a roll ran out: the new
one is full). The status watcher saves every answer it reads.
(With several worker processes, another's different save may stand until this sender's status
changes, `STATUS_REWRITE` passes, or a watcher reads the printer again.)
A stop (cancellation) lets the send in progress finish and be recorded, so a restart prints
each pending job once; only a crash between send and record prints a job twice (see jobs.py),
the second time as a reprint.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Literal, cast

import anyio
import anyio.to_thread

from pos.logs import logger
from pos.printing.jobs import PRINT_JOBS, ClaimedJob, claim_due, finish, save_status
from pos.printing.receipts import document_from_json
from pos.printing.tables import PrintJob
from pos.settings import Settings
from pos.stores.tables import Printer
from printers import (
    PrinterError,
    PrinterNotReady,
    PrinterProfile,
    PrinterStatus,
    PrinterUnreachable,
    ReceiptDocument,
    RefundDocument,
    SendInterrupted,
    StatusUnsupported,
    printer_profile,
    query_status,
    render_receipt,
    send,
)

__all__ = ["SENDS_AT_ONCE", "STATUS_REWRITE", "Outcome", "PrintSender", "RetryPolicy"]

SENDS_AT_ONCE = 32
STATUS_TIMEOUT_S = 2.0
STATUS_CONCURRENCY = 16
STATUS_REWRITE = timedelta(seconds=30)
_J = PrintJob
_READY = PrinterStatus(online=True)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one send did: the job's new state, the row changes, what the printer said."""

    state: str
    changes: dict[Any, Any] = field(compare=False)
    status: PrinterStatus | None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When to try a job again, and when to give up."""

    max_attempts: int
    first: timedelta
    longest: timedelta
    recheck: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        """The policy the settings describe."""
        return cls(
            max_attempts=settings.print_max_attempts,
            first=timedelta(seconds=settings.print_retry_first_s),
            longest=timedelta(seconds=settings.print_retry_longest_s),
            recheck=timedelta(seconds=settings.print_recheck_s),
        )

    def retry_delay(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th unreachable send: doubling, capped, 50-100 % jitter."""
        doubled: timedelta = self.first * 2 ** min(attempts - 1, 20)
        return min(doubled, self.longest) * (0.5 + secrets.randbelow(501) / 1000)

    def outcome(
        self,
        error: Exception | None,
        attempts: int,
        now: datetime,
        *,
        ready: PrinterStatus = _READY,
    ) -> Outcome:
        """The job's next state after a send that raised `error` (None: it printed, on `ready`).

        `ready` is what a printed send leaves the printer reporting (it read no status to keep).
        """
        if error is None:
            return Outcome("printed", {_J.state: "printed", _J.printed_at: now}, ready)
        if isinstance(error, PrinterNotReady):
            status = error.status or PrinterStatus(online=False, error=error.reason)
            changes = {_J.state: "waiting", _J.next_attempt_at: now + self.recheck}
            return Outcome("waiting", {**changes, _J.last_error: error.reason}, status)
        message = f"{getattr(error, 'code', type(error).__name__)}: {error}"[:2000]
        unreachable = isinstance(error, PrinterUnreachable)
        state = "queued" if unreachable and attempts + 1 < self.max_attempts else "failed"
        changes = {_J.state: state, _J.attempts: attempts + 1, _J.last_error: message}
        if state == "queued":
            changes[_J.next_attempt_at] = now + self.retry_delay(attempts + 1)
        if isinstance(error, SendInterrupted):
            changes[_J.maybe_printed] = True
        return Outcome(state, changes, PrinterStatus.unreachable(message) if unreachable else None)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class PrintSender:
    """Sends the print queue from a worker; run one per process (PostgreSQL: any number)."""

    def __init__(self, settings: Settings, clock: Callable[[], datetime] = _utc_now) -> None:
        self.timeout = settings.print_timeout_s
        self.policy = RetryPolicy.from_settings(settings)
        self.status_interval = settings.printer_status_interval_s
        self.clock = clock
        # Longer than any send can take, so a live sender's job is never taken from it.
        self.lease = timedelta(seconds=2 * self.timeout + 30)
        # The status this sender last saved for each printer, and when.
        self._saved: dict[int, tuple[PrinterStatus, datetime]] = {}
        self._sends = anyio.CapacityLimiter(SENDS_AT_ONCE)
        # Claimed and not yet recorded. Counted apart from the limiter's tokens, which a job
        # takes only once its task runs: the next claim may come before that.
        self._held = 0

    async def run(self, stop: anyio.Event, poll_s: float = 1.0) -> None:
        """Send jobs as they come due until `stop` is set; sends in progress finish first."""
        with PRINT_JOBS.listen() as woken:
            async with (
                anyio.create_task_group() as deliveries,
                anyio.create_task_group() as watcher,
            ):
                watcher.start_soon(self._watch_statuses)
                watcher.start_soon(woken.set_when, stop)
                while not stop.is_set():
                    for job in await self._claim():
                        deliveries.start_soon(self._deliver_shielded, job)
                    await woken.wait(poll_s)  # new or freed work, or time to look again
                watcher.cancel_scope.cancel()

    async def _claim(self) -> list[ClaimedJob]:
        try:
            jobs = await claim_due(self.lease, limit=SENDS_AT_ONCE - self._held)
        except Exception:  # a database hiccup: the loop tries again on the next tick
            logger.exception("print queue: claiming failed")
            return []
        self._held += len(jobs)
        return jobs

    async def deliver_due(self, now: datetime | None = None) -> list[str]:
        """Claim up to `SENDS_AT_ONCE` jobs due at `now`, send them all; their new states."""
        jobs = await claim_due(self.lease, now, limit=SENDS_AT_ONCE)
        states: list[str] = []
        async with anyio.create_task_group() as group:
            for job in jobs:
                group.start_soon(self._collect, job, states)
        return states

    async def deliver(self, job: ClaimedJob) -> str:
        """Send one claimed job and record what happened; returns the job's new state."""
        error: Exception | None = None
        try:
            data = render_receipt(_document(job), _profile(job))
            await anyio.to_thread.run_sync(
                partial(send, job.connection_url, data, timeout=self.timeout), limiter=self._sends
            )
        except (PrinterError, ValueError, KeyError, TypeError) as exc:
            error = exc
        now = self.clock()
        ready = self._ready(job.printer_id)
        outcome = self.policy.outcome(error, job.attempts, now, ready=ready)
        if not await finish(job, outcome.changes):
            logger.warning("print queue: claim lost before recording", job_id=job.id)
        status = outcome.status
        if status is not None and not self._saved_lately(job.printer_id, status, now):
            await self._save_status(job.printer_id, status, now)
        _log(job, outcome, error)
        PRINT_JOBS.notify()  # the printer's next job may go now
        return outcome.state

    async def refresh_statuses(self) -> None:
        """Ask every printer for its status and remember the answers, for staff."""
        printers = await Printer.select(Printer.id, Printer.connection_url)
        limiter = anyio.CapacityLimiter(STATUS_CONCURRENCY)
        async with anyio.create_task_group() as group:
            for row in printers:
                group.start_soon(self._refresh, row["id"], row["connection_url"], limiter)

    async def _refresh(self, printer_id: int, url: str, limiter: anyio.CapacityLimiter) -> None:
        status = await anyio.to_thread.run_sync(_read_status, url, limiter=limiter)
        if status is not None:
            await self._save_status(printer_id, status, self.clock())

    def _ready(self, printer_id: int) -> PrinterStatus:
        """The printer ready, still "paper near end" if last saved so, unless it ran out since."""
        saved = self._saved.get(printer_id)
        if saved is None or saved[0].paper_out:
            return _READY
        return PrinterStatus(online=True, paper_near_end=saved[0].paper_near_end)

    def _saved_lately(self, printer_id: int, status: PrinterStatus, now: datetime) -> bool:
        """Whether this sender saved `status` for the printer less than `STATUS_REWRITE` ago."""
        saved = self._saved.get(printer_id)
        if saved is None:
            return False
        saved_status, saved_at = saved
        return saved_status == status and saved_at <= now < saved_at + STATUS_REWRITE

    async def _save_status(self, printer_id: int, status: PrinterStatus, now: datetime) -> None:
        await save_status(printer_id, status, now)
        self._saved[printer_id] = (status, now)

    async def _watch_statuses(self) -> None:
        while True:
            try:
                await self.refresh_statuses()
            except Exception:  # keep watching; the next round may reach the database again
                logger.exception("print queue: reading printer statuses failed")
            await anyio.sleep(self.status_interval)

    async def _deliver_shielded(self, job: ClaimedJob) -> None:
        # Shielded: even a cancellation waits for the send in progress and records it.
        with anyio.CancelScope(shield=True):
            try:
                await self.deliver(job)
            except Exception:  # the lease gives the job back to the next claim
                logger.exception("print queue: recording a send failed", job_id=job.id)
            finally:
                self._held -= 1

    async def _collect(self, job: ClaimedJob, states: list[str]) -> None:
        with anyio.CancelScope(shield=True):
            states.append(await self.deliver(job))


def _document(job: ClaimedJob) -> ReceiptDocument | RefundDocument:
    document = document_from_json(job.document)
    # A second paper copy of a sale must not pass for the original (at an exit check, say).
    return replace(document, reprint=True) if job.maybe_printed else document


def _profile(job: ClaimedJob) -> PrinterProfile:
    return printer_profile(job.connection_url, paper_mm=cast(Literal[58, 80], job.paper_width_mm))


def _read_status(url: str) -> PrinterStatus | None:
    try:
        return query_status(url, timeout=STATUS_TIMEOUT_S)
    except StatusUnsupported:
        return None  # a device file or CUPS queue: its status is unknown, not bad
    except PrinterError as error:
        return PrinterStatus.unreachable(f"{error.code}: {error}")
    except Exception as error:  # a driver's own failure: this printer's, not the others' reads
        logger.exception("print queue: reading a printer's status failed", url=url)
        return PrinterStatus.unreachable(f"{type(error).__name__}: {error}")


def _log(job: ClaimedJob, outcome: Outcome, error: Exception | None) -> None:
    log = logger.bind(job_id=job.id, printer_id=job.printer_id, state=outcome.state)
    if outcome.state == "failed":
        log.error("print queue: job failed", error=str(error))
    elif error is not None:
        log.warning("print queue: job not printed yet", error=str(error))
    else:
        log.info("print queue: job printed")
