from __future__ import annotations

import pytest

from printers.status import STATUS_QUERY, PrinterStatus, status_from_replies


def test_status_query_asks_printer_offline_cause_and_paper() -> None:
    assert STATUS_QUERY == b"\x10\x04\x01\x10\x04\x02\x10\x04\x04"


@pytest.mark.parametrize(
    ("replies", "status"),
    [
        (b"\x12\x12\x12", PrinterStatus(online=True)),
        (b"\x1a\x12\x12", PrinterStatus(online=False)),
        (b"\x1a\x32\x72", PrinterStatus(online=False, paper_out=True)),
        (b"\x1a\x16\x12", PrinterStatus(online=False, cover_open=True)),
        (b"\x12\x12\x1e", PrinterStatus(online=True, paper_near_end=True)),
    ],
)
def test_replies_decode_to_status(replies: bytes, status: PrinterStatus) -> None:
    assert status_from_replies(replies) == status


@pytest.mark.parametrize("replies", [b"", b"\x12\x12", b"\x00\x12\x12", b"ABC"])
def test_unexpected_replies_are_reported_as_errors(replies: bytes) -> None:
    status = status_from_replies(replies)
    assert not status.online
    assert not status.ready
    assert status.error is not None


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (PrinterStatus(online=True), None),
        (PrinterStatus(online=True, paper_near_end=True), None),
        (PrinterStatus(online=False, paper_out=True), "paper out"),
        (PrinterStatus(online=False, cover_open=True), "cover open"),
        (PrinterStatus(online=False), "offline"),
        (PrinterStatus.unreachable("no answer within 2 s"), "no answer within 2 s"),
    ],
)
def test_reason_says_why_a_printer_cannot_print(status: PrinterStatus, reason: str | None) -> None:
    assert status.reason == reason
    assert status.ready is (reason is None)
