"""Deadline-bounded writes and reads on a non-blocking file descriptor (tty, device file)."""

from __future__ import annotations

import os
import select

from printers.connectors.base import Deadline
from printers.errors import PrinterUnreachable

__all__ = ["FdChannel"]


class FdChannel:
    """A non-blocking descriptor; select() keeps every call within the deadline."""

    def __init__(self, fd: int, name: str) -> None:
        self._fd = fd
        self._name = name

    def write(self, data: bytes, deadline: Deadline) -> None:
        """Write all of `data`, waiting while the device is busy (flow control, full buffer)."""
        view = memoryview(data)
        while view:
            _, writable, _ = select.select([], [self._fd], [], deadline.remaining())
            if not writable:
                raise PrinterUnreachable(f"{self._name}: busy for {deadline.timeout:g} s")
            try:
                view = view[os.write(self._fd, view) :]
            except BlockingIOError:
                continue
            except OSError as error:
                raise PrinterUnreachable(f"{self._name}: {error}") from error

    def read(self, size: int, deadline: Deadline) -> bytes:
        """Read exactly `size` bytes."""
        received = b""
        while len(received) < size:
            readable, _, _ = select.select([self._fd], [], [], deadline.remaining())
            if not readable:
                raise PrinterUnreachable(
                    f"{self._name}: no status reply within {deadline.timeout:g} s"
                )
            try:
                received += os.read(self._fd, size - len(received))
            except BlockingIOError:
                continue
            except OSError as error:
                raise PrinterUnreachable(f"{self._name}: {error}") from error
        return received
