"""Connectors against real transports: TCP (virtual printer), a serial pty, and a device file."""

from __future__ import annotations

import errno
import importlib.util
import os
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from escpos.exceptions import DeviceNotFoundError
from escpos.printer import Usb

from printers import (
    PrinterConfigError,
    PrinterNotReady,
    PrinterProfile,
    PrinterStatus,
    PrinterUnreachable,
    SendInterrupted,
    StatusUnsupported,
    VirtualPrinter,
    connector_for,
    decode,
    query_status,
    render_receipt,
    sample_receipt,
    send,
)
from printers.connectors import (
    CupsConnector,
    FileConnector,
    NetworkConnector,
    SerialConnector,
    UsbConnector,
    cupsqueue,
    usbdevice,
)
from printers.decoder import Cut, Decoder, StatusRequest


class PtyPrinter:
    """The far end of a pseudo-terminal acting as a serial printer: answers DLE EOT, keeps pages."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()  # the slave stays open so the master never sees EIO
        self.device = os.ttyname(self.slave)
        self.replies = {1: b"\x12", 2: b"\x12", 4: b"\x12"}
        self.received = bytearray()
        self.pages: list[bytes] = []
        self._arrived = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        decoder = Decoder()
        while not self._stop.is_set():
            readable, _, _ = select.select([self.master], [], [], 0.05)
            if readable:
                self._handle(decoder, os.read(self.master, 4096))

    def _handle(self, decoder: Decoder, data: bytes) -> None:
        for event in decoder.feed(data):
            if isinstance(event, StatusRequest):
                os.write(self.master, self.replies.get(event.n, b""))
            elif isinstance(event, Cut):
                with self._arrived:
                    self.pages.append(event.raw)
                    self._arrived.notify_all()
        self.received += data

    def wait_for_page(self, timeout: float = 10.0) -> bytes:
        """The first page (everything up to a cut) once it has arrived."""
        with self._arrived:
            self._arrived.wait_for(lambda: bool(self.pages), timeout)
            return self.pages[0] if self.pages else b""

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def pty_printer() -> Iterator[PtyPrinter]:
    fake = PtyPrinter()
    yield fake
    fake.close()


DATA = render_receipt(sample_receipt(), PrinterProfile(paper_mm=58))

Transport = tuple[str, Callable[[], bytes]]


@pytest.fixture(params=["tcp", "serial", "file"])
def transport(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Transport]:
    """A printer URL and a way to read back what arrived, for every transport we can run here."""
    if request.param == "tcp":
        virtual: VirtualPrinter = request.getfixturevalue("printer")
        yield f"tcp://127.0.0.1:{virtual.port}", lambda: virtual.wait_for_receipts(1)[0].raw
    elif request.param == "serial":
        fake: PtyPrinter = request.getfixturevalue("pty_printer")
        yield f"serial://{fake.device}?baudrate=19200", fake.wait_for_page
    else:
        capture = tmp_path / "lp0"
        capture.write_bytes(b"")
        yield f"file://{capture}", capture.read_bytes


def test_every_transport_delivers_the_exact_bytes(transport: Transport) -> None:
    url, received = transport
    send(url, DATA, timeout=5)
    assert received() == DATA
    assert "甘肃定西马铃薯粉条" in decode(received()).text_lines


@pytest.fixture
def jammed_port() -> Iterator[int]:
    """A printer that answers "ready", then takes no more bytes (jammed, its buffer full)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # accepted sockets inherit it
    held: list[socket.socket] = []

    def answer_status_only() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return  # closed: the test is over
            held.append(connection)
            connection.recv(9)  # DLE EOT 1, 2, 4
            connection.sendall(b"\x12\x12\x12")

    thread = threading.Thread(target=answer_status_only, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    server.close()
    for connection in held:
        connection.close()
    thread.join(5)


def test_a_send_cut_short_while_writing_may_have_printed(jammed_port: int) -> None:
    with pytest.raises(SendInterrupted, match="may be on the paper"):
        send(f"tcp://127.0.0.1:{jammed_port}", b"\n" * 8_000_000, timeout=0.5)


def test_a_printer_not_reached_has_printed_nothing(silent_port: int) -> None:
    with pytest.raises(PrinterUnreachable) as raised:
        send(f"tcp://127.0.0.1:{silent_port}", DATA, timeout=0.3)
    assert not isinstance(raised.value, SendInterrupted)


def test_connector_for_picks_the_connector_by_scheme() -> None:
    assert isinstance(connector_for("tcp://127.0.0.1:9100"), NetworkConnector)
    assert isinstance(connector_for("serial:///dev/ttyS0"), SerialConnector)
    assert isinstance(connector_for("file:///dev/usb/lp0"), FileConnector)
    assert isinstance(connector_for("usb://0x0416:0x5011"), UsbConnector)
    assert isinstance(connector_for("cups://Receipts"), CupsConnector)


def test_serial_status_is_read_from_the_port(pty_printer: PtyPrinter) -> None:
    url = f"serial://{pty_printer.device}"
    assert query_status(url) == PrinterStatus(online=True)
    pty_printer.replies = {1: b"\x1a", 2: b"\x32", 4: b"\x72"}
    assert query_status(url) == PrinterStatus(online=False, paper_out=True)


def test_serial_printer_out_of_paper_refuses_the_job(pty_printer: PtyPrinter) -> None:
    pty_printer.replies = {1: b"\x1a", 2: b"\x32", 4: b"\x72"}
    with pytest.raises(PrinterNotReady, match="paper out"):
        send(f"serial://{pty_printer.device}", DATA, timeout=5)
    assert pty_printer.pages == []
    assert b"\x1dV" not in pty_printer.received


def test_a_serial_device_that_answers_no_status_is_unreachable(pty_printer: PtyPrinter) -> None:
    pty_printer.replies = {1: b"O", 2: b"K", 4: b"!"}  # no status byte has bit 0 set
    with pytest.raises(PrinterUnreachable, match="unexpected status reply 4f 4b 21"):
        send(f"serial://{pty_printer.device}", DATA, timeout=5)
    assert pty_printer.pages == []


def test_serial_printer_that_does_not_answer_is_offline(pty_printer: PtyPrinter) -> None:
    pty_printer.replies = {}
    status = query_status(f"serial://{pty_printer.device}", timeout=0.3)
    assert status == PrinterStatus.unreachable(
        f"{pty_printer.device}: no status reply within 0.3 s"
    )


def test_missing_serial_device_is_unreachable(tmp_path: Path) -> None:
    url = f"serial://{tmp_path}/ttyUSB9"
    with pytest.raises(PrinterUnreachable, match="No such file"):
        send(url, DATA, timeout=1)
    assert not query_status(url, timeout=1).online


def test_a_plain_file_is_not_a_serial_port(tmp_path: Path) -> None:
    path = tmp_path / "not-a-tty"
    path.write_bytes(b"")
    with pytest.raises(PrinterConfigError, match="not a serial port: name a tty"):
        send(f"serial://{path}", DATA, timeout=1)


def test_a_device_that_is_no_tty_is_not_a_serial_port() -> None:
    with pytest.raises(PrinterConfigError, match="/dev/null is not a serial port"):
        send("serial:///dev/null", DATA, timeout=1)


def denied_opening(monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    """Opening `path` fails as for a user outside its group (tests run as root)."""
    real_open = os.open

    def open_(file: str, flags: int, *args: int) -> int:
        if file == path:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), file)
        return real_open(file, flags, *args)

    monkeypatch.setattr(os, "open", open_)


def test_a_device_file_the_service_may_not_open_needs_its_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    device = tmp_path / "lp0"
    device.touch()
    denied_opening(monkeypatch, str(device))
    with pytest.raises(PrinterConfigError, match=r"Permission denied: add the user .* lp group"):
        send(f"file://{device}", DATA, timeout=1)


def test_a_serial_port_the_service_may_not_open_needs_its_group(
    pty_printer: PtyPrinter, monkeypatch: pytest.MonkeyPatch
) -> None:
    denied_opening(monkeypatch, pty_printer.device)
    with pytest.raises(PrinterConfigError, match=r"add the user .* dialout group"):
        send(f"serial://{pty_printer.device}", DATA, timeout=1)


def test_device_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(PrinterUnreachable, match="No such file"):
        send(f"file://{tmp_path}/lp9", DATA, timeout=1)
    assert not (tmp_path / "lp9").exists()


def test_a_device_file_prints_in_a_process_with_more_than_1024_descriptors(
    tmp_path: Path,
) -> None:
    busy = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]  # sockets, logs, database...
    try:
        device = tmp_path / "lp0"
        device.touch()
        send(f"file://{device}", DATA, timeout=2)  # select() refused descriptors past 1023
    finally:
        for fd in busy:
            os.close(fd)
    assert device.read_bytes() == DATA


def test_device_file_cannot_read_status(tmp_path: Path) -> None:
    with pytest.raises(StatusUnsupported):
        query_status(f"file://{tmp_path}/lp0")


@pytest.mark.skipif(Usb.is_usable(), reason="pyusb is installed")
def test_usb_without_pyusb_is_a_config_error() -> None:
    with pytest.raises(PrinterConfigError, match="pyusb"):
        send("usb://0x0416:0x5011", DATA, timeout=1)


class NoBackendError(ValueError):
    """pyusb's, when it finds no libusb (pyusb is not installed here)."""


class USBError(OSError):
    """pyusb's, an OSError carrying the errno libusb gave."""


class FakeUsb:
    """python-escpos's Usb as pyusb drives it: `opening` is what its open() does."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    @staticmethod
    def is_usable() -> bool:
        return True

    def open(self) -> None:
        self.opening()


def no_backend() -> None:
    raise NoBackendError("No backend available")


def access_denied() -> None:
    try:
        raise USBError(errno.EACCES, "Access denied (insufficient permissions)")
    except USBError as error:  # python-escpos wraps it, as its open() does
        # As python-escpos raises it: the USBError is only its context.
        raise DeviceNotFoundError(f"Unable to open USB printer on (1046, 20497):\n{error}")  # noqa: B904


@pytest.mark.parametrize(
    ("opening", "fix"),
    [
        (no_backend, "pyusb found no libusb .*apt-get install libusb-1.0-0"),
        (access_denied, 'write a udev rule .*ATTR{idVendor}=="0416", ATTR{idProduct}=="5011"'),
    ],
)
def test_a_usb_setup_no_retry_mends_is_a_config_error_naming_the_fix(
    monkeypatch: pytest.MonkeyPatch, opening: Callable[[], None], fix: str
) -> None:
    monkeypatch.setattr(FakeUsb, "opening", staticmethod(opening), raising=False)
    monkeypatch.setattr(usbdevice, "Usb", FakeUsb)
    monkeypatch.setattr(usbdevice, "_usb_core", SimpleNamespace(NoBackendError=NoBackendError))
    with pytest.raises(PrinterConfigError, match=fix):
        send("usb://0x0416:0x5011", DATA, timeout=1)


@pytest.mark.skipif(importlib.util.find_spec("cups") is not None, reason="pycups is installed")
def test_cups_without_pycups_is_a_config_error() -> None:
    with pytest.raises(PrinterConfigError, match="pycups"):
        send("cups://Receipts", DATA, timeout=1)


class FakeCups:
    """Stands in for pycups: keeps the raw jobs it is given, or hangs like a stuck CUPS."""

    class IPPError(Exception):
        pass

    class HTTPError(Exception):
        pass

    def __init__(self) -> None:
        self.answering = threading.Event()
        self.answering.set()
        self.jobs: list[tuple[str, bytes, dict[str, str]]] = []

    def Connection(self) -> FakeCups:  # pycups' name
        return self

    def printFile(self, queue: str, filename: str, title: str, options: dict[str, str]) -> int:
        self.answering.wait(5)
        self.jobs.append((queue, Path(filename).read_bytes(), options))
        return len(self.jobs)


@pytest.fixture
def fake_cups(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCups]:
    cups = FakeCups()
    monkeypatch.setattr(cupsqueue, "_cups", cups)
    yield cups
    cups.answering.set()


def test_cups_queues_the_bytes_as_a_raw_job(fake_cups: FakeCups) -> None:
    send("cups://Receipts", DATA, timeout=5)
    assert fake_cups.jobs == [("Receipts", DATA, {"raw": "true"})]


def test_a_job_cups_has_not_taken_by_the_deadline_may_yet_print(fake_cups: FakeCups) -> None:
    fake_cups.answering.clear()
    started = time.monotonic()
    # A queue of its own: the call left hanging holds up sends to its queue until it ends.
    with pytest.raises(SendInterrupted, match=r"cups://Late: no answer within 0\.3 s"):
        send("cups://Late", DATA, timeout=0.3)
    assert time.monotonic() - started < 1.5
    fake_cups.answering.set()  # CUPS takes the job after all: it prints
    deadline = time.monotonic() + 5
    while not fake_cups.jobs and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake_cups.jobs == [("Late", DATA, {"raw": "true"})]


def test_a_job_not_submitted_while_cups_still_hangs_has_printed_nothing(
    fake_cups: FakeCups,
) -> None:
    fake_cups.answering.clear()
    with pytest.raises(SendInterrupted):
        send("cups://Stuck", DATA, timeout=0.2)
    with pytest.raises(PrinterUnreachable, match="an earlier call still has no answer") as raised:
        send("cups://Stuck", DATA, timeout=0.2)
    assert not isinstance(raised.value, SendInterrupted)


def test_a_job_cups_refuses_has_printed_nothing(
    fake_cups: FakeCups, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object) -> int:
        raise FakeCups.IPPError(1280, "client-error-not-found")

    monkeypatch.setattr(fake_cups, "printFile", refuse)
    with pytest.raises(PrinterUnreachable, match="client-error-not-found") as raised:
        send("cups://Receipts", DATA, timeout=1)
    assert not isinstance(raised.value, SendInterrupted)
