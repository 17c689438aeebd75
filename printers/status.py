"""Printer status from the real-time `DLE EOT n` replies (Epson ESC/POS reference)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["STATUS_QUERY", "PrinterStatus", "status_from_replies"]

DLE_EOT = b"\x10\x04"
# n=1 printer status, n=2 offline cause, n=4 roll paper sensor. Real-time commands are answered
# even while the printer is offline, so one request of all three tells why it cannot print.
STATUS_QUERY = DLE_EOT + b"\x01" + DLE_EOT + b"\x02" + DLE_EOT + b"\x04"

# Every reply byte has bits 1 and 4 set and bits 0 and 7 clear; anything else is not a status.
_FIXED_MASK, _FIXED_BITS = 0x93, 0x12
_OFFLINE = 0x08  # n=1 bit 3
_COVER_OPEN = 0x04  # n=2 bit 2
_STOPPED_PAPER_END = 0x20  # n=2 bit 5
_NEAR_END = 0x0C  # n=4 bits 2-3
_PAPER_END = 0x60  # n=4 bits 5-6


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    """What the printer reported; `error` says why it could not be asked or did not answer."""

    online: bool
    paper_out: bool = False
    cover_open: bool = False
    paper_near_end: bool = False
    error: str | None = None

    @property
    def ready(self) -> bool:
        """Whether a receipt sent now would print."""
        return self.online and not (self.paper_out or self.cover_open) and self.error is None

    @property
    def reason(self) -> str | None:
        """Why the printer cannot print, or None when ready."""
        if self.error is not None:
            return self.error
        if self.paper_out:
            return "paper out"
        if self.cover_open:
            return "cover open"
        if not self.online:
            return "offline"
        return None

    @classmethod
    def unreachable(cls, error: str) -> PrinterStatus:
        """A printer that could not be asked is reported offline with the reason."""
        return cls(online=False, error=error)


def status_from_replies(replies: bytes) -> PrinterStatus:
    """Parse the three reply bytes to `STATUS_QUERY`."""
    if len(replies) != 3 or any(byte & _FIXED_MASK != _FIXED_BITS for byte in replies):
        return PrinterStatus.unreachable(f"unexpected status reply {replies.hex(' ')}")
    printer, cause, paper = replies
    return PrinterStatus(
        online=not printer & _OFFLINE,
        paper_out=bool(paper & _PAPER_END or cause & _STOPPED_PAPER_END),
        cover_open=bool(cause & _COVER_OPEN),
        paper_near_end=bool(paper & _NEAR_END),
    )
