"""Staff acting on a print job: reading it, sending a failed one again, cancelling a stuck one.

Each action takes an optional Idempotency-Key, kept in `print_job_key`: a tablet repeating a
request whose answer it lost changes nothing and gets the job as it is now.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pos.db import insert_new, write_transaction
from pos.errors import Conflict, NotFound
from pos.logs import logger
from pos.printing.jobs import PRINT_JOBS
from pos.printing.schemas import PrintJobOut
from pos.printing.tables import PrintJob, PrintJobKey
from pos.staff.actors import staff_name

__all__ = [
    "CANCELLABLE",
    "JOB_COLUMNS",
    "cancel_job",
    "job_out",
    "order_jobs",
    "request_key",
    "retry_job",
]

_J = PrintJob
CANCELLABLE = ("queued", "waiting", "failed")
JOB_COLUMNS = (
    _J.id,
    _J.printer.as_alias("printer_id"),
    _J.order.as_alias("order_id"),
    _J.kind,
    _J.state,
    _J.attempts,
    _J.next_attempt_at,
    _J.last_error,
    _J.created_at,
    _J.printed_at,
    _J.created_by,
)


def request_key(action: str, scope: int, idempotency_key: str | None) -> str | None:
    """How a staff request's Idempotency-Key is kept: unique per action and store or job."""
    return f"{action}:{scope}:{idempotency_key}" if idempotency_key else None


async def _repeated(action: str, job_id: int, idempotency_key: str | None) -> bool:
    """Keep the key of a request on the job in the caller's transaction; True if kept before.

    A racing repeat's insert waits for the first one's transaction, then inserts nothing.
    """
    key = request_key(action, job_id, idempotency_key)
    if key is None:
        return False
    return not await insert_new([PrintJobKey(key=key)], "ON CONFLICT DO NOTHING RETURNING id")


async def retry_job(
    store_id: int, job_id: int, *, staff_user_id: int, idempotency_key: str | None = None
) -> PrintJobOut:
    """Queue a failed job again, with a fresh count of attempts; a repeated key changes nothing."""
    job = await job_out(job_id, store_id=store_id)
    async with write_transaction():
        if await _repeated("retry", job_id, idempotency_key):
            return await job_out(job_id)
        retried = (
            await _J.update(
                {_J.state: "queued", _J.attempts: 0, _J.next_attempt_at: datetime.now(UTC)}
            )
            .where((_J.id == job_id) & (_J.state == "failed"))
            .returning(_J.id)
        )
        if not retried:  # not failed, or no longer: e.g. cancelled at another tablet meanwhile
            state = job.state if job.state != "failed" else (await job_out(job_id)).state
            raise Conflict(
                f"job {job_id} is {state}; only a failed job is retried", code="job_state"
            )
    logger.info("printing: failed job retried", job_id=job_id, staff_user_id=staff_user_id)
    PRINT_JOBS.notify()
    return await job_out(job_id)


async def cancel_job(
    store_id: int, job_id: int, *, staff_user_id: int, idempotency_key: str | None = None
) -> PrintJobOut:
    """Take a job that has not printed off its printer's queue: the jobs behind it go on.

    For a receipt nobody will collect, or a job stuck at a printer staff cannot mend now. A job
    being sent cannot be called back (it may be on the paper already): `Conflict`. A repeated
    key changes nothing and answers with the job.
    """
    job = await job_out(job_id, store_id=store_id)
    async with write_transaction():
        if await _repeated("cancel", job_id, idempotency_key):
            return await job_out(job_id)
        cancelled = (
            await _J.update(
                {_J.state: "cancelled", _J.last_error: f"cancelled by {staff_name(staff_user_id)}"}
            )
            .where((_J.id == job_id) & _J.state.is_in([*CANCELLABLE]))
            .returning(_J.id)
        )
        if not cancelled:
            raise Conflict(
                f"job {job_id} is {job.state}; only a queued, waiting or failed job is cancelled",
                code="job_state",
            )
    logger.info("printing: job cancelled", job_id=job_id, staff_user_id=staff_user_id)
    PRINT_JOBS.notify()
    return await job_out(job_id)


async def job_out(job_id: int, *, store_id: int | None = None) -> PrintJobOut:
    where: Any = _J.id == job_id
    if store_id is not None:
        where &= _J.printer._.store == store_id
    row = await _J.select(*JOB_COLUMNS).where(where).first()
    if row is None:
        raise NotFound(f"no print job {job_id} here", code="print_job_not_found")
    return PrintJobOut(**row)


async def order_jobs(order_id: int) -> list[PrintJobOut]:
    """An order's print jobs, oldest first: whether its receipt printed, for the kiosk."""
    rows = await _J.select(*JOB_COLUMNS).where(_J.order == order_id).order_by(_J.id)
    return [PrintJobOut(**row) for row in rows]
