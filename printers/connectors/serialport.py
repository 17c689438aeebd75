"""Serial printers through termios (POSIX), so no pyserial is needed."""

from __future__ import annotations

import os
import termios
import tty
from collections.abc import Iterator
from contextlib import contextmanager

from printers.connectors.base import Deadline, DuplexConnector
from printers.connectors.fd import FdChannel
from printers.errors import PrinterUnreachable
from printers.profiles import SerialAddress

__all__ = ["SerialConnector"]


class SerialConnector(DuplexConnector):
    """Send to a serial printer at 8N1 without flow control; status replies are read back."""

    def __init__(self, address: SerialAddress) -> None:
        self.address = address

    @contextmanager
    def open(self, deadline: Deadline) -> Iterator[FdChannel]:
        """Open and configure the tty, raising PrinterUnreachable if it is missing or busy."""
        device = self.address.device
        try:
            fd = os.open(device, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError as error:
            raise PrinterUnreachable(f"{device}: {error}") from error
        try:
            _configure(fd, self.address.baudrate)
            yield FdChannel(fd, device)
        except termios.error as error:
            raise PrinterUnreachable(f"{device}: not a serial port ({error})") from error
        finally:
            os.close(fd)


def _configure(fd: int, baudrate: int) -> None:
    tty.setraw(fd)  # no echo, no line editing, no CR/LF translation of receipt bytes
    attributes = termios.tcgetattr(fd)
    speed = getattr(termios, f"B{baudrate}")
    attributes[4] = attributes[5] = speed  # ispeed, ospeed
    attributes[2] |= termios.CLOCAL | termios.CREAD  # ignore modem lines, enable the receiver
    termios.tcsetattr(fd, termios.TCSANOW, attributes)
    termios.tcflush(fd, termios.TCIFLUSH)  # drop stale bytes so status replies line up
