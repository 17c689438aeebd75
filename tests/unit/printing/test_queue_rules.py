"""The queue's rules without a database: when a head is due, and what a send's result means."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pos.printing.jobs import due_heads
from pos.printing.queue import RetryPolicy
from printers import PrinterConfigError, PrinterNotReady, PrinterStatus, PrinterUnreachable

NOW = datetime(2024, 10, 1, 6, 0, tzinfo=UTC)
EARLIER, LATER = NOW - timedelta(seconds=1), NOW + timedelta(seconds=30)
POLICY = RetryPolicy(
    max_attempts=3,
    first=timedelta(seconds=2),
    longest=timedelta(seconds=60),
    recheck=timedelta(seconds=5),
)


def job(job_id: int, printer: int, state: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": job_id,
        "printer": printer,
        "state": state,
        "next_attempt_at": EARLIER,
        "lease_until": None,
    } | fields


def test_a_queued_or_waiting_head_is_due_at_its_next_attempt() -> None:
    heads = [job(1, 1, "queued"), job(2, 2, "waiting"), job(3, 3, "waiting", next_attempt_at=LATER)]
    assert due_heads(heads, NOW) == [1, 2]
    assert due_heads(heads, LATER) == [1, 2, 3]


def test_a_head_being_sent_is_due_once_its_lease_passes() -> None:
    heads = [job(1, 1, "sending", lease_until=LATER)]
    assert due_heads(heads, NOW) == []
    assert due_heads(heads, LATER + timedelta(seconds=1)) == [1]


def test_heads_due_longest_come_first_and_no_more_than_asked() -> None:
    heads = [
        job(1, 1, "queued", next_attempt_at=NOW),
        job(2, 2, "waiting"),
        job(3, 3, "sending", lease_until=EARLIER - timedelta(seconds=1)),
    ]
    assert due_heads(heads, NOW) == [3, 2, 1]
    assert due_heads(heads, NOW, limit=2) == [3, 2]


def test_printed_means_ready() -> None:
    outcome = POLICY.outcome(None, 0, NOW)
    assert outcome.state == "printed"
    assert outcome.status is not None
    assert outcome.status.ready


def test_paper_out_waits_without_counting_an_attempt() -> None:
    status = PrinterStatus(online=False, paper_out=True)
    outcome = POLICY.outcome(PrinterNotReady("paper out", status), 2, NOW)
    assert outcome.state == "waiting"
    assert outcome.status == status
    assert all(column._meta.name != "attempts" for column in outcome.changes)
    assert outcome.changes[_column(outcome.changes, "next_attempt_at")] == NOW + POLICY.recheck


def test_unreachable_is_retried_later_then_fails() -> None:
    first = POLICY.outcome(PrinterUnreachable("refused"), 0, NOW)
    assert first.state == "queued"
    assert first.status is not None
    assert not first.status.online
    retry_at = first.changes[_column(first.changes, "next_attempt_at")]
    assert NOW + timedelta(seconds=1) <= retry_at <= NOW + timedelta(seconds=2)
    assert POLICY.outcome(PrinterUnreachable("refused"), 2, NOW).state == "failed"


def test_a_wrong_printer_url_fails_at_once() -> None:
    outcome = POLICY.outcome(PrinterConfigError("unknown scheme"), 0, NOW)
    assert outcome.state == "failed"
    assert "printer_config" in outcome.changes[_column(outcome.changes, "last_error")]


@pytest.mark.parametrize("attempts", [1, 2, 5, 10, 30])
def test_retry_delay_doubles_with_jitter_up_to_the_longest(attempts: int) -> None:
    delay = POLICY.retry_delay(attempts)
    full = min(POLICY.first * 2 ** (attempts - 1), POLICY.longest)
    assert full / 2 <= delay <= full


def _column(changes: dict[Any, Any], name: str) -> Any:
    return next(column for column in changes if column._meta.name == name)
