"""Device files such as /dev/usb/lp0 (write only), or a plain file to capture the bytes."""

from __future__ import annotations

import os

from printers.connectors.base import Connector, Deadline
from printers.connectors.fd import FdChannel
from printers.errors import PrinterUnreachable
from printers.profiles import FileAddress

__all__ = ["FileConnector"]


class FileConnector(Connector):
    """Append bytes to an existing device file; it cannot read status, so it never checks."""

    def __init__(self, address: FileAddress) -> None:
        self.address = address

    def send(self, data: bytes, *, timeout: float, check_status: bool = True) -> None:
        """Write `data`; a printer that stops taking bytes fails after `timeout` seconds."""
        deadline = Deadline(timeout)
        path = self.address.path
        try:
            # No O_CREAT: a mistyped /dev path must fail, not become a regular file.
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK | os.O_NOCTTY)
        except OSError as error:
            raise PrinterUnreachable(f"{path}: {error}") from error
        try:
            FdChannel(fd, path).write(data, deadline)
        finally:
            os.close(fd)
