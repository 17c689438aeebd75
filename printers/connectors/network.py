"""Network printers: raw TCP, usually port 9100."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

from printers.connectors.base import Deadline, DuplexConnector
from printers.errors import PrinterUnreachable
from printers.profiles import TcpAddress

__all__ = ["NetworkConnector"]


class NetworkConnector(DuplexConnector):
    """Send to a printer's raw TCP port; status replies come back on the same connection."""

    def __init__(self, address: TcpAddress) -> None:
        self.address = address

    @contextmanager
    def open(self, deadline: Deadline) -> Iterator[_SocketChannel]:
        """Connect, raising PrinterUnreachable when refused or too slow."""
        target = f"{self.address.host}:{self.address.port}"
        try:
            sock = _connect(self.address, deadline, target)
        except OSError as error:
            raise PrinterUnreachable(f"{target}: {error}") from error
        with sock:
            try:
                yield _SocketChannel(sock, target)
            except OSError as error:
                raise PrinterUnreachable(f"{target}: {error}") from error


def _connect(address: TcpAddress, deadline: Deadline, target: str) -> socket.socket:
    """Look the host up, then connect to its addresses in turn, all before the deadline."""
    failure: OSError = OSError(f"{address.host} has no address")
    for ip in _addresses(address, deadline, target):
        try:
            return socket.create_connection((ip, address.port), timeout=deadline.remaining())
        except OSError as error:
            failure = error
    raise failure


def _addresses(address: TcpAddress, deadline: Deadline, target: str) -> list[str]:
    try:
        return [str(ipaddress.ip_address(address.host))]  # as printers mostly are: no lookup
    except ValueError:
        pass
    # getaddrinfo takes no timeout, and create_connection's covers only the connect.
    lookup = partial(socket.getaddrinfo, address.host, address.port, type=socket.SOCK_STREAM)
    return [str(sockaddr[0]) for *_, sockaddr in deadline.call(lookup, target)]


class _SocketChannel:
    def __init__(self, sock: socket.socket, target: str) -> None:
        self._sock = sock
        self._target = target

    def write(self, data: bytes, deadline: Deadline) -> None:
        self._sock.settimeout(deadline.remaining())
        try:
            self._sock.sendall(data)
        except OSError as error:
            raise PrinterUnreachable(f"{self._target}: {error}") from error

    def read(self, size: int, deadline: Deadline) -> bytes:
        received = b""
        while len(received) < size:
            self._sock.settimeout(deadline.remaining())
            try:
                chunk = self._sock.recv(size - len(received))
            except TimeoutError:
                raise PrinterUnreachable(
                    f"{self._target}: no status reply within {deadline.timeout:g} s"
                ) from None
            if not chunk:
                raise PrinterUnreachable(f"{self._target}: connection closed by the printer")
            received += chunk
        return received
