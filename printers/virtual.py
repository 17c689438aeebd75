"""A virtual ESC/POS printer on TCP, for development, demos and tests.

How it compares with a real receipt printer:

* Status: real-time `DLE EOT n` requests are answered at once, even while offline, as real
  printers do (n=1 printer, n=2 offline cause, n=4 roll paper sensor).
* Paper out, cover open or offline: a real printer stops printing but keeps receiving into its
  buffer (then stops reading, so TCP backs up) and prints what it buffered once paper is loaded.
  This one drops print data received while not ready and counts the job in `dropped_jobs`: nothing
  comes out late, so a test sees exactly what was refused. The connectors ask for the status
  first and raise PrinterNotReady, so a correct client never sends into a stopped printer.
* One connection is served at a time, the others wait their turn in the order they came, as on a
  raw port 9100: jobs sent one after another come out in that order.
* Each cut (`GS V`) ends a receipt; print data left when the connection closes (a printer without
  a cutter) is a receipt too. Each receipt is kept in memory and, with an `out_dir`, saved as
  `<n>.txt` (decoded text), `<n>.png` (drawn on 58 or 80 mm paper) and `<n>.bin` (raw bytes).
* A line-based control port flips the state from another process: `paper out`, `paper ok`,
  `paper low`, `cover open`, `cover closed`, `offline`, `online`, `status`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal

from printers.decoder import (
    Cut,
    DecodedReceipt,
    Decoder,
    Element,
    PrintedLine,
    QrCode,
    RasterImage,
    StatusRequest,
)
from printers.profiles import PrinterProfile
from printers.render import render_png
from printers.status import PrinterStatus

__all__ = ["PrintedReceipt", "VirtualPrinter", "serve"]

logger = logging.getLogger(__name__)

_FIXED_BITS = 0x12  # bits 1 and 4 are always set in a DLE EOT reply
_COMMANDS = "paper out, paper ok, paper low, cover open, cover closed, offline, online, status"


@dataclass(frozen=True, slots=True)
class PrintedReceipt:
    """One receipt the virtual printer printed (between two cuts)."""

    number: int
    decoded: DecodedReceipt
    raw: bytes = field(repr=False)
    files: tuple[Path, ...] = ()


@dataclass(slots=True)
class _Job:
    elements: list[Element] = field(default_factory=list)
    dropped: bool = False


class VirtualPrinter:
    """The printer's state and its TCP servers; use `start()`/`stop()` from sync code."""

    def __init__(
        self, out_dir: str | Path | None = None, *, paper_mm: Literal[58, 80] = 80
    ) -> None:
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.dots = PrinterProfile(paper_mm=paper_mm).dots
        self.port: int | None = None
        self.control_port: int | None = None
        self._online, self._paper_out, self._cover_open, self._near_end = True, False, False, False
        self._receipts: list[PrintedReceipt] = []
        self._dropped = 0
        self._next_number = _first_free_number(self.out_dir)
        self._changed = threading.Condition()
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: asyncio.Lock | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # State, as an operator or a test sets it.

    def set_paper(self, out: bool) -> None:
        """Run out of paper (True) or load a new roll (False)."""
        self._paper_out = out
        if not out:
            self._near_end = False  # a new roll is full

    def set_paper_near_end(self, near_end: bool) -> None:
        """Report the roll as nearly used up (still prints)."""
        self._near_end = near_end

    def set_cover_open(self, cover_open: bool) -> None:
        """Open or close the cover; an open cover takes the printer offline."""
        self._cover_open = cover_open

    def set_online(self, online: bool) -> None:
        """Take the printer offline (it answers status but prints nothing) or back online."""
        self._online = online

    @property
    def status(self) -> PrinterStatus:
        """What the printer reports to `DLE EOT`."""
        online = self._online and not (self._paper_out or self._cover_open)
        return PrinterStatus(online, self._paper_out, self._cover_open, self._near_end)

    @property
    def receipts(self) -> list[PrintedReceipt]:
        """Receipts printed so far, oldest first."""
        with self._changed:
            return list(self._receipts)

    @property
    def dropped_jobs(self) -> int:
        """Jobs received while not ready and thrown away."""
        return self._dropped

    def wait_for_receipts(self, count: int, timeout: float = 10.0) -> list[PrintedReceipt]:
        """Block until `count` receipts were printed; raises TimeoutError otherwise."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._receipts) >= count, timeout):
                raise TimeoutError(f"{len(self._receipts)} of {count} receipts after {timeout} s")
            return list(self._receipts)

    def control(self, command: str) -> str:
        """Apply one control-port command and return the reply line."""
        actions = {
            "paper out": lambda: self.set_paper(True),
            "paper ok": lambda: self.set_paper(False),
            "paper low": lambda: self.set_paper_near_end(True),
            "cover open": lambda: self.set_cover_open(True),
            "cover closed": lambda: self.set_cover_open(False),
            "offline": lambda: self.set_online(False),
            "online": lambda: self.set_online(True),
            "status": lambda: None,
        }
        action = actions.get(" ".join(command.lower().split()))
        if action is None:
            return f"error unknown command {command.strip()!r} (commands: {_COMMANDS})"
        action()
        status = self.status
        return (
            f"ok online={status.online:d} paper_out={status.paper_out:d} "
            f"cover_open={status.cover_open:d} paper_near_end={status.paper_near_end:d} "
            f"receipts={len(self._receipts)} dropped={self._dropped}"
        )

    # Serving, inside a running event loop.

    async def open(
        self, host: str = "127.0.0.1", port: int = 0, control_port: int | None = None
    ) -> None:
        """Listen for ESC/POS on `port` (0: any free port) and, if given, for control commands."""
        self._session = asyncio.Lock()  # made here: it belongs to the loop that serves
        server = await asyncio.start_server(self._serve_printing, host, port)
        self._servers.append(server)
        self.port = server.sockets[0].getsockname()[1]
        if control_port is not None:
            control = await asyncio.start_server(self._serve_control, host, control_port)
            self._servers.append(control)
            self.control_port = control.sockets[0].getsockname()[1]
        logger.info(
            "virtual printer on %s:%s, control port %s, saving to %s",
            host,
            self.port,
            self.control_port,
            self.out_dir,
        )

    async def close(self) -> None:
        """Stop listening and drop open connections."""
        for server in self._servers:
            server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()

    async def _serve_printing(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._track()
        assert self._session is not None
        async with self._session:
            await self._print_session(reader, writer)

    async def _print_session(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        decoder, job = Decoder(), _Job()
        try:
            while data := await reader.read(65536):
                for event in decoder.feed(data):
                    if isinstance(event, StatusRequest):
                        writer.write(self._reply(event.n))
                    else:
                        await self._take(event, job)
                await writer.drain()
            for element in decoder.flush():
                if not isinstance(element, StatusRequest):
                    await self._take(element, job)
            await self._end_job(job, decoder.pending_raw, cut=None)
        except ConnectionError:
            logger.info("virtual printer: client went away mid-job")
        finally:
            await _close_writer(writer)

    async def _serve_control(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._track()
        try:
            while line := await reader.readline():
                command = line.decode(errors="replace").strip()
                if command.lower() in ("quit", "exit"):
                    break
                writer.write(f"{self.control(command)}\n".encode())
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            await _close_writer(writer)

    def _track(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _reply(self, n: int) -> bytes:
        status, byte = self.status, _FIXED_BITS
        if n == 1:
            byte |= 0x08 if not status.online else 0
        elif n == 2:
            byte |= (0x04 if status.cover_open else 0) | (0x20 if status.paper_out else 0)
        elif n == 4:
            byte |= (0x0C if status.paper_near_end else 0) | (0x60 if status.paper_out else 0)
        elif n != 3:
            return b""  # other n are not status requests: a printer ignores them
        return bytes([byte])

    async def _take(self, element: Element, job: _Job) -> None:
        if isinstance(element, Cut):
            await self._end_job(job, element.raw, element)
        elif self.status.ready:
            job.elements.append(element)
        else:
            job.dropped = True

    async def _end_job(self, job: _Job, raw: bytes, cut: Cut | None) -> None:
        elements, dropped = job.elements, job.dropped
        job.elements, job.dropped = [], False
        if dropped or (cut is not None and not self.status.ready):
            self._dropped += 1
            logger.warning("virtual printer not ready (%s): job dropped", self.status.reason)
        elif any(_prints_something(element) for element in elements):
            await self._keep(DecodedReceipt(tuple(elements) + ((cut,) if cut else ())), raw)

    async def _keep(self, receipt: DecodedReceipt, raw: bytes) -> None:
        with self._changed:
            number, self._next_number = self._next_number, self._next_number + 1
        files = await asyncio.to_thread(self._save, number, receipt, raw) if self.out_dir else ()
        with self._changed:
            self._receipts.append(PrintedReceipt(number, receipt, raw, files))
            self._changed.notify_all()
        logger.info("virtual printer: receipt %d printed", number)

    def _save(self, number: int, receipt: DecodedReceipt, raw: bytes) -> tuple[Path, ...]:
        assert self.out_dir is not None
        self.out_dir.mkdir(parents=True, exist_ok=True)
        text, png, binary = (
            self.out_dir / f"{number}{suffix}" for suffix in (".txt", ".png", ".bin")
        )
        text.write_text(receipt.to_text(), encoding="utf-8")
        binary.write_bytes(raw)
        render_png(receipt, self.dots).save(png)
        return text, png, binary

    # Serving from synchronous code: an event loop in a background thread.

    def start(
        self, host: str = "127.0.0.1", port: int = 0, control_port: int | None = None
    ) -> None:
        """Serve from a background thread until `stop()`."""
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(
            target=loop.run_forever, name="virtual-printer", daemon=True
        )
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.open(host, port, control_port), loop).result(10)

    def stop(self) -> None:
        """Stop the background thread started by `start()`."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self.close(), loop).result(10)
        asyncio.run_coroutine_threadsafe(loop.shutdown_default_executor(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> VirtualPrinter:
        if self._loop is None:
            self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


async def serve(
    host: str,
    port: int,
    out_dir: str | Path,
    control_port: int | None = None,
    *,
    paper_mm: Literal[58, 80] = 80,
) -> None:
    """Run a virtual printer until cancelled, saving receipts to `out_dir`.

    The CLI `pos printer serve --port 9100 [--control-port 9101] [--out var/printer]` calls this.
    """
    printer = VirtualPrinter(out_dir, paper_mm=paper_mm)
    await printer.open(host, port, control_port)
    try:
        await asyncio.Event().wait()
    finally:
        await printer.close()


def _prints_something(element: Element) -> bool:
    if isinstance(element, PrintedLine):
        return bool(element.text.strip())
    return isinstance(element, (QrCode, RasterImage))


def _first_free_number(out_dir: Path | None) -> int:
    # Keep numbering after receipts a previous run left in the same folder.
    if out_dir is None or not out_dir.is_dir():
        return 1
    numbers = [int(path.stem) for path in out_dir.glob("*.bin") if path.stem.isdigit()]
    return max(numbers, default=0) + 1


async def _close_writer(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()
