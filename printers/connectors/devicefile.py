"""Device files such as /dev/usb/lp0 (write only), or a plain file to capture the bytes."""

from __future__ import annotations

import os

from printers.connectors.base import Connector, Deadline, write_receipt
from printers.connectors.fd import FdChannel, open_device
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
        # No O_CREAT: a mistyped /dev path must fail, not become a regular file.
        flags = os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK | os.O_NOCTTY
        fd = open_device(path, flags, group="lp")
        try:
            write_receipt(FdChannel(fd, path), data, deadline)
        finally:
            os.close(fd)
