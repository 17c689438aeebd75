"""Serial printers through termios (POSIX), so no pyserial is needed."""

from __future__ import annotations

import errno
import os
import stat
import termios
import tty
from collections.abc import Iterator
from contextlib import contextmanager

from printers.connectors.base import Deadline, DuplexConnector
from printers.connectors.fd import FdChannel, open_device
from printers.errors import PrinterConfigError, PrinterUnreachable
from printers.profiles import SerialAddress

__all__ = ["SerialConnector"]

_NAME_A_TTY = (
    "name a tty, e.g. serial:///dev/ttyUSB0 (a printer device file is file:///dev/usb/lp0)"
)


class SerialConnector(DuplexConnector):
    """Send to a serial printer at 8N1 without flow control; status replies are read back."""

    def __init__(self, address: SerialAddress) -> None:
        self.address = address

    @contextmanager
    def open(self, deadline: Deadline) -> Iterator[FdChannel]:
        """Open and configure the tty: missing or busy is unreachable, denied or no tty wrong."""
        device = self.address.device
        fd = open_device(device, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK, group="dialout")
        try:
            _configure(fd, device, self.address.baudrate)
            yield FdChannel(fd, device)
        finally:
            os.close(fd)


def _configure(fd: int, device: str, baudrate: int) -> None:
    if not stat.S_ISCHR(os.fstat(fd).st_mode):
        raise PrinterConfigError(f"{device} is not a serial port: {_NAME_A_TTY}")
    try:
        _set_raw(fd, baudrate)
    except termios.error as error:
        if error.args[0] == errno.ENOTTY:  # a device, but no tty (/dev/usb/lp0, say)
            raise PrinterConfigError(f"{device} is not a serial port: {_NAME_A_TTY}") from error
        raise PrinterUnreachable(f"{device}: {error}") from error


def _set_raw(fd: int, baudrate: int) -> None:
    tty.setraw(fd)  # no echo, no line editing, no CR/LF translation of receipt bytes
    attributes = termios.tcgetattr(fd)
    speed = getattr(termios, f"B{baudrate}")
    attributes[4] = attributes[5] = speed  # ispeed, ospeed
    attributes[2] |= termios.CLOCAL | termios.CREAD  # ignore modem lines, enable the receiver
    termios.tcsetattr(fd, termios.TCSANOW, attributes)
    termios.tcflush(fd, termios.TCIFLUSH)  # drop stale bytes so status replies line up
