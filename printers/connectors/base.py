"""The connector interface, and the status-checked send shared by connectors that can read."""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AbstractContextManager
from typing import Protocol, TypeVar

from printers.errors import (
    PrinterNotReady,
    PrinterUnreachable,
    SendInterrupted,
    StatusUnsupported,
)
from printers.status import STATUS_QUERY, PrinterStatus, status_from_replies

__all__ = ["Channel", "Connector", "Deadline", "DuplexConnector", "LeftBehind", "write_receipt"]

T = TypeVar("T")


class LeftBehind(PrinterUnreachable):
    """A blocking call still running at its deadline: what it does may yet be done."""


class Deadline:
    """One time budget for a whole exchange (name lookup, connect, status, write)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._end = time.monotonic() + timeout

    def remaining(self) -> float:
        """Seconds left; raises PrinterUnreachable once the budget is spent."""
        left = self._end - time.monotonic()
        if left <= 0:
            raise PrinterUnreachable(f"no answer within {self.timeout:g} s")
        return left

    def call(self, blocking: Callable[[], T], target: str) -> T:
        """`blocking()`, for a call that takes no timeout; LeftBehind once time is up.

        It runs in a daemon thread of its own, left behind to finish (or never) after the
        deadline: such a call cannot be interrupted, and must hold up neither the sender nor
        the process exiting. While one is left behind, calls to the same `target` fail at once
        rather than leave one more thread each.
        """
        left = self.remaining()
        if _hung.holds(target):
            raise PrinterUnreachable(f"{target}: an earlier call still has no answer")
        outcome: Future[T] = Future()
        threading.Thread(target=_settle, args=(outcome, blocking, target), daemon=True).start()
        try:
            return outcome.result(timeout=left)
        except TimeoutError:
            if outcome.done():
                raise  # raised by `blocking` itself
            _hung.add(target)
            if outcome.done():  # it answered just now: nothing is left behind
                _hung.discard(target)
            raise LeftBehind(f"{target}: no answer within {self.timeout:g} s") from None


class _Targets:
    """The targets of calls left behind at their deadline, shared by every thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._targets: set[str] = set()

    def holds(self, target: str) -> bool:
        with self._lock:
            return target in self._targets

    def add(self, target: str) -> None:
        with self._lock:
            self._targets.add(target)

    def discard(self, target: str) -> None:
        with self._lock:
            self._targets.discard(target)


_hung = _Targets()


class Channel(Protocol):
    """An open two-way link to a printer."""

    def write(self, data: bytes, deadline: Deadline) -> None:
        """Write all of `data` before the deadline."""

    def read(self, size: int, deadline: Deadline) -> bytes:
        """Read exactly `size` bytes before the deadline."""


class Connector(ABC):
    """Sends bytes to one printer. Blocking: the service calls it from a worker thread."""

    @abstractmethod
    def send(self, data: bytes, *, timeout: float, check_status: bool = True) -> None:
        """Deliver `data` within `timeout` seconds, or raise a PrinterError."""

    def query_status(self, *, timeout: float) -> PrinterStatus:
        """Ask the printer for its status (DLE EOT 1, 2, 4)."""
        raise StatusUnsupported(f"{type(self).__name__} cannot read the printer's status")


class DuplexConnector(Connector):
    """A connector that can read replies, so it checks the status before sending."""

    @abstractmethod
    def open(self, deadline: Deadline) -> AbstractContextManager[Channel]:
        """Open the link, raising PrinterUnreachable on failure."""

    def send(self, data: bytes, *, timeout: float, check_status: bool = True) -> None:
        """Check the printer is ready (unless told not to), then write `data`."""
        deadline = Deadline(timeout)
        with self.open(deadline) as channel:
            if check_status:
                # A printer out of paper keeps buffering what it gets and prints it much later;
                # refusing here lets the queue wait for staff instead of piling up copies.
                status = _exchange_status(channel, deadline)
                if status.error is not None:
                    # What answered is no printer (a mistyped port reaching SSH, say): no staff
                    # loading paper mends that, so it is retried and fails like one unreachable.
                    raise PrinterUnreachable(status.error)
                if not status.ready:
                    raise PrinterNotReady(status.reason or "not ready", status)
            write_receipt(channel, data, deadline)

    def query_status(self, *, timeout: float) -> PrinterStatus:
        """Ask for the status; a printer that cannot be reached is reported offline."""
        deadline = Deadline(timeout)
        try:
            with self.open(deadline) as channel:
                return _exchange_status(channel, deadline)
        except PrinterUnreachable as error:
            return PrinterStatus.unreachable(str(error))


def _settle(outcome: Future[T], blocking: Callable[[], T], target: str) -> None:
    try:
        outcome.set_result(blocking())
    except BaseException as error:  # handed to the waiting caller, or dropped once it left
        outcome.set_exception(error)
    finally:
        _hung.discard(target)


def write_receipt(channel: Channel, data: bytes, deadline: Deadline) -> None:
    """Write the receipt: SendInterrupted when it fails, as part or all of it may be printed."""
    try:
        channel.write(data, deadline)
    except PrinterUnreachable as error:
        raise SendInterrupted(str(error)) from error


def _exchange_status(channel: Channel, deadline: Deadline) -> PrinterStatus:
    channel.write(STATUS_QUERY, deadline)
    return status_from_replies(channel.read(3, deadline))
