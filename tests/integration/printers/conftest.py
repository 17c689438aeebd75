from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from printers.virtual import VirtualPrinter


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def printer(tmp_path: Path) -> Iterator[VirtualPrinter]:
    """A virtual printer on a free 127.0.0.1 port, with a control port, saving to tmp_path."""
    virtual = VirtualPrinter(tmp_path / "out", paper_mm=80)
    virtual.start("127.0.0.1", 0, control_port=0)
    yield virtual
    virtual.stop()


@pytest.fixture
def printer_url(printer: VirtualPrinter) -> str:
    return f"tcp://127.0.0.1:{printer.port}"


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (kernel backlog) but never answers."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


@pytest.fixture
def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port: int = server.getsockname()[1]
    return port
