"""CUPS queues in raw mode, through pycups when it is installed."""

from __future__ import annotations

import importlib
import tempfile
from functools import partial
from typing import Any

from printers.connectors.base import Connector, Deadline, LeftBehind
from printers.errors import PrinterConfigError, PrinterUnreachable, SendInterrupted
from printers.profiles import CupsAddress

__all__ = ["CupsConnector"]

try:
    _cups: Any = importlib.import_module("cups")
except ImportError:
    _cups = None


class CupsConnector(Connector):
    """Submit the bytes as a raw job; CUPS spools it, so no printer status is read."""

    def __init__(self, address: CupsAddress) -> None:
        self.address = address

    def send(self, data: bytes, *, timeout: float, check_status: bool = True) -> None:
        """Queue `data` on the CUPS queue; PrinterUnreachable if CUPS refused or was not asked.

        pycups takes no timeout, so a hung CUPS would block the sender for ever. At the deadline
        the submission is left running and CUPS may still take the job: that is SendInterrupted,
        so the retry prints it as a reprint (at least once, as the queue promises).
        """
        if _cups is None:
            raise PrinterConfigError("CUPS printing needs pycups: pip install pycups")
        target = f"cups://{self.address.queue}"
        try:
            Deadline(timeout).call(partial(_submit, self.address.queue, data), target)
        except LeftBehind as error:
            raise SendInterrupted(str(error)) from error
        except (RuntimeError, _cups.IPPError, _cups.HTTPError) as error:
            raise PrinterUnreachable(f"{target}: {error}") from error


def _submit(queue: str, data: bytes) -> None:
    # The spool file lives as long as the call, even one still running after the deadline.
    with tempfile.NamedTemporaryFile(prefix="receipt-", suffix=".bin") as job:
        job.write(data)
        job.flush()
        _cups.Connection().printFile(queue, job.name, "receipt", {"raw": "true"})
