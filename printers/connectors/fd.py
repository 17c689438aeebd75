"""Opening a device (tty, device file), and deadline-bounded writes and reads on its descriptor."""

from __future__ import annotations

import os
import selectors

from printers.connectors.base import Deadline
from printers.errors import PrinterConfigError, PrinterUnreachable

__all__ = ["FdChannel", "open_device"]


def open_device(path: str, flags: int, *, group: str) -> int:
    """`os.open`; a device the service may not open is a setup to fix, not one to retry.

    `group` is the one that usually owns such devices (lp for printers, dialout for ttys).
    """
    try:
        return os.open(path, flags)
    except PermissionError as error:
        raise PrinterConfigError(
            f"{path}: {error.strerror}: add the user the POS runs as to the {group} group"
            f" (or the group owning {path}), or write a udev rule giving it access"
        ) from error
    except OSError as error:
        raise PrinterUnreachable(f"{path}: {error}") from error


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
