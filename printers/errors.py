"""Printer errors: one small tree so the print queue can choose retry, wait or give up."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from printers.status import PrinterStatus

__all__ = [
    "PrinterConfigError",
    "PrinterError",
    "PrinterNotReady",
    "PrinterUnreachable",
    "SendInterrupted",
    "StatusUnsupported",
]


class PrinterError(Exception):
    """Base of every printer failure; `code` is stable for logs and the UI."""

    code: ClassVar[str] = "printer_error"
    retryable: ClassVar[bool] = False


class PrinterConfigError(PrinterError):
    """The URL or profile is wrong, a driver is missing or the device is denied: no retry helps."""

    code = "printer_config"


class StatusUnsupported(PrinterConfigError):
    """This connection cannot read the printer's status (device file, CUPS)."""

    code = "printer_status_unsupported"


class PrinterUnreachable(PrinterError):
    """Connecting, writing or reading failed or timed out, or what answered is no printer: retry."""

    code = "printer_unreachable"
    retryable = True


class SendInterrupted(PrinterUnreachable):
    """The link failed while the receipt was being written: part or all of it may be printed."""

    code = "printer_send_interrupted"

    def __init__(self, reason: str) -> None:
        super().__init__(f"{reason} (part or all of it may be on the paper)")


class PrinterNotReady(PrinterError):
    """The printer answered but cannot print (paper out, cover open, offline): wait for staff."""

    code = "printer_not_ready"
    retryable = True

    def __init__(self, reason: str, status: PrinterStatus | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
