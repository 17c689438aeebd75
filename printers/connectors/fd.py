"""Deadline-bounded writes and reads on a non-blocking file descriptor (tty, device file)."""

from __future__ import annotations

import os
import selectors

from printers.connectors.base import Deadline
from printers.errors import PrinterUnreachable

__all__ = ["FdChannel"]


class FdChannel:
    """A non-blocking descriptor; a selector keeps every call within the deadline.

    poll(), not select(), which refuses a descriptor numbered 1024 or more, as a busy server's
    are; nor epoll, which refuses regular files (a `file://` printer in tests and demos).
    """

    def __init__(self, fd: int, name: str) -> None:
        self._fd = fd
        self._name = name

    def write(self, data: bytes, deadline: Deadline) -> None:
        """Write all of `data`, waiting while the device is busy (flow control, full buffer)."""
        view = memoryview(data)
        while view:
            if not _ready(self._fd, selectors.EVENT_WRITE, deadline):
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
            if not _ready(self._fd, selectors.EVENT_READ, deadline):
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


def _ready(fd: int, event: int, deadline: Deadline) -> bool:
    """Whether `fd` is ready for `event` before the deadline."""
    with selectors.PollSelector() as selector:
        selector.register(fd, event)
        return bool(selector.select(deadline.remaining()))
