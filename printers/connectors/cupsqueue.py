"""CUPS queues in raw mode, through pycups when it is installed."""

from __future__ import annotations

import importlib
import tempfile
from typing import Any

from printers.connectors.base import Connector
from printers.errors import PrinterConfigError, PrinterUnreachable
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
        """Queue `data` on the CUPS queue; CUPS spools it, so `timeout` does not apply."""
        if _cups is None:
            raise PrinterConfigError("CUPS printing needs pycups: pip install pycups")
        queue = self.address.queue
        with tempfile.NamedTemporaryFile(prefix="receipt-", suffix=".bin") as job:
            job.write(data)
            job.flush()
            try:
                _cups.Connection().printFile(queue, job.name, "receipt", {"raw": "true"})
            except (RuntimeError, _cups.IPPError, _cups.HTTPError) as error:
                raise PrinterUnreachable(f"cups://{queue}: {error}") from error
