"""The virtual printer over real 127.0.0.1 sockets: printing, status, control port, artifacts."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from printers import (
    PrinterNotReady,
    PrinterProfile,
    PrinterStatus,
    PrinterUnreachable,
    VirtualPrinter,
    decode,
    query_status,
    render_receipt,
    sample_receipt,
    send,
    serve,
)
from printers.decoder import Cut
from printers.text import format_fen

PROFILE = PrinterProfile(paper_mm=80)
SLOW_HOST = "printer.test"


def control(port: int | None, *commands: str) -> list[str]:
    assert port is not None
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        stream = conn.makefile("rw", encoding="utf-8", newline="\n")
        replies = []
        for command in commands:
            stream.write(f"{command}\n")
            stream.flush()
            replies.append(stream.readline().strip())
        return replies


def test_printed_receipt_decodes_to_the_document(printer: VirtualPrinter, printer_url: str) -> None:
    document = sample_receipt()
    send(printer_url, render_receipt(document, PROFILE), timeout=5)
    (receipt,) = printer.wait_for_receipts(1)
    text = "\n".join(receipt.decoded.text_lines)
    for line in document.lines:
        assert line.name.split()[0][:8] in text
        assert format_fen(line.amount_fen) in text
        if line.certificate_no:
            assert line.certificate_no in text
    assert f"合计{' ' * 38}{format_fen(document.total_fen)}" in text
    assert document.payment_reference in text
    assert receipt.decoded.qr_payloads == (document.receipt_url,)
    assert receipt.decoded.cuts == 1


def test_chinese_survives_the_round_trip_byte_for_byte(
    printer: VirtualPrinter, printer_url: str
) -> None:
    data = render_receipt(sample_receipt(), PrinterProfile(paper_mm=58, kanji_control=True))
    send(printer_url, data, timeout=5)
    (receipt,) = printer.wait_for_receipts(1)
    assert receipt.raw == data
    assert receipt.decoded == decode(data)
    assert "甘肃定西马铃薯粉条" in receipt.decoded.text_lines


def test_each_receipt_is_saved_as_text_png_and_bin(
    printer: VirtualPrinter, printer_url: str
) -> None:
    data = render_receipt(sample_receipt(), PROFILE)
    send(printer_url, data + data, timeout=5)
    first, second = printer.wait_for_receipts(2)
    assert (first.number, second.number) == (1, 2)
    text, png, binary = first.files
    assert [path.name for path in first.files] == ["1.txt", "1.png", "1.bin"]
    assert binary.read_bytes() == data
    assert text.read_text(encoding="utf-8") == decode(data).to_text()
    assert "[QR] https://pos.example.cn/r/20240501-0042?k=8f3a2c" in text.read_text(
        encoding="utf-8"
    )
    assert png.read_bytes().startswith(b"\x89PNG")


def test_numbering_continues_after_receipts_already_in_the_folder(tmp_path: Path) -> None:
    (tmp_path / "7.bin").write_bytes(b"")
    with VirtualPrinter(tmp_path) as virtual:
        send(
            f"tcp://127.0.0.1:{virtual.port}", render_receipt(sample_receipt(), PROFILE), timeout=5
        )
        assert virtual.wait_for_receipts(1)[0].number == 8


def test_a_job_without_a_cut_is_a_receipt_when_the_connection_closes(
    printer: VirtualPrinter, printer_url: str
) -> None:
    send(
        printer_url,
        render_receipt(sample_receipt(), PrinterProfile(paper_mm=80, cut="none")),
        timeout=5,
    )
    (receipt,) = printer.wait_for_receipts(1)
    assert receipt.decoded.cuts == 0
    assert receipt.decoded.qr_payloads == (sample_receipt().receipt_url,)


def test_a_partial_cut_ends_a_receipt_and_is_seen_as_partial(
    printer: VirtualPrinter, printer_url: str
) -> None:
    profile = PrinterProfile(paper_mm=80, cut="partial")
    send(printer_url, render_receipt(sample_receipt(), profile) * 2, timeout=5)
    receipts = printer.wait_for_receipts(2)
    assert [receipt.decoded.elements[-1] for receipt in receipts] == [Cut(partial=True)] * 2
    assert [receipt.decoded.cuts for receipt in receipts] == [1, 1]


def test_status_of_a_ready_printer(printer_url: str) -> None:
    assert query_status(printer_url) == PrinterStatus(online=True)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda p: p.set_paper(True), PrinterStatus(online=False, paper_out=True)),
        (lambda p: p.set_online(False), PrinterStatus(online=False)),
        (lambda p: p.set_cover_open(True), PrinterStatus(online=False, cover_open=True)),
        (lambda p: p.set_paper_near_end(True), PrinterStatus(online=True, paper_near_end=True)),
    ],
    ids=["paper-out", "offline", "cover-open", "near-end"],
)
def test_status_queries_report_the_printer_state(
    printer: VirtualPrinter, printer_url: str, change: object, expected: PrinterStatus
) -> None:
    change(printer)  # type: ignore[operator]
    assert query_status(printer_url) == expected


def test_sending_to_a_printer_without_paper_raises_not_ready(
    printer: VirtualPrinter, printer_url: str
) -> None:
    printer.set_paper(True)
    with pytest.raises(PrinterNotReady) as raised:
        send(printer_url, render_receipt(sample_receipt(), PROFILE), timeout=5)
    assert raised.value.reason == "paper out"
    assert raised.value.status == PrinterStatus(online=False, paper_out=True)
    assert raised.value.retryable
    printer.set_paper(False)
    send(printer_url, render_receipt(sample_receipt(), PROFILE), timeout=5)
    assert len(printer.wait_for_receipts(1)) == 1


def test_a_nearly_empty_roll_still_prints(printer: VirtualPrinter, printer_url: str) -> None:
    printer.set_paper_near_end(True)
    send(printer_url, render_receipt(sample_receipt(), PROFILE), timeout=5)
    assert len(printer.wait_for_receipts(1)) == 1


def test_an_offline_printer_drops_data_sent_without_a_status_check(printer: VirtualPrinter) -> None:
    printer.set_online(False)
    with socket.create_connection(("127.0.0.1", printer.port or 0), timeout=5) as conn:
        # The status reply follows the job on the same connection: by then the job was handled.
        conn.sendall(render_receipt(sample_receipt(), PROFILE) + b"\x10\x04\x01")
        assert conn.recv(1) == b"\x1a"
    assert printer.dropped_jobs == 1
    assert printer.receipts == []


def test_control_port_flips_paper_and_online(printer: VirtualPrinter, printer_url: str) -> None:
    replies = control(printer.control_port, "paper out", "status")
    assert (
        replies
        == ["ok online=0 paper_out=1 cover_open=0 paper_near_end=0 receipts=0 dropped=0"] * 2
    )
    assert query_status(printer_url).paper_out
    control(printer.control_port, "PAPER  OK", "offline")
    assert query_status(printer_url) == PrinterStatus(online=False)
    control(printer.control_port, "online")
    assert query_status(printer_url).ready


def test_control_port_rejects_unknown_commands(printer: VirtualPrinter) -> None:
    (reply,) = control(printer.control_port, "jam paper")
    assert reply.startswith("error unknown command 'jam paper'")


def test_a_printer_that_never_answers_is_reported_offline(silent_port: int) -> None:
    status = query_status(f"tcp://127.0.0.1:{silent_port}", timeout=0.3)
    assert not status.online
    assert status.error is not None
    assert "no status reply within 0.3 s" in status.error


def test_sending_to_a_printer_that_never_answers_raises_unreachable(silent_port: int) -> None:
    with pytest.raises(PrinterUnreachable, match="no status reply"):
        send(f"tcp://127.0.0.1:{silent_port}", b"x\n", timeout=0.3)


def test_a_refused_connection_is_unreachable(free_port: int) -> None:
    url = f"tcp://127.0.0.1:{free_port}"
    with pytest.raises(PrinterUnreachable, match="refused"):
        send(url, b"x\n", timeout=2)
    status = query_status(url, timeout=2)
    assert not status.online
    assert "refused" in (status.error or "")


@pytest.fixture
def stalled_lookup(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Looking up SLOW_HOST hangs, as behind a dead DNS server, until the event is set.

    Then it answers 127.0.0.1; other names resolve as usual.
    """
    answer = threading.Event()
    real_lookup = socket.getaddrinfo

    def lookup(host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        if host == SLOW_HOST:
            answer.wait(5)
            host = "127.0.0.1"
        return real_lookup(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    yield answer
    answer.set()


def test_a_stalled_name_lookup_counts_against_the_timeout(
    printer: VirtualPrinter, stalled_lookup: threading.Event
) -> None:
    url = f"tcp://{SLOW_HOST}:{printer.port}"
    started = time.monotonic()
    with pytest.raises(PrinterUnreachable, match=rf"{SLOW_HOST}:\d+: no answer within 0\.3 s"):
        send(url, render_receipt(sample_receipt(), PROFILE), timeout=0.3)
    assert time.monotonic() - started < 1.5
    started = time.monotonic()
    assert not query_status(url, timeout=0.3).online
    assert time.monotonic() - started < 1.5
    assert printer.receipts == []


def test_sends_behind_a_hung_lookup_fail_at_once_and_leave_no_more_threads(
    printer: VirtualPrinter, stalled_lookup: threading.Event
) -> None:
    url = f"tcp://{SLOW_HOST}:{printer.port}"
    before = threading.active_count()
    with pytest.raises(PrinterUnreachable, match="no answer within"):
        send(url, b"x", timeout=0.1)
    for _ in range(10):  # the jobs' retries, while the first lookup still hangs
        with pytest.raises(PrinterUnreachable, match="an earlier call still has no answer"):
            send(url, b"x", timeout=0.1)
    assert threading.active_count() - before == 1
    stalled_lookup.set()
    for _ in range(50):  # the lookup answers: its thread ends and sends go through again
        if threading.active_count() == before:
            break
        time.sleep(0.05)
    send(url, render_receipt(sample_receipt(), PROFILE), timeout=5)
    assert len(printer.wait_for_receipts(1)) == 1


def test_a_printer_named_by_host_name_prints(printer: VirtualPrinter) -> None:
    """`localhost` may resolve to ::1 first, where nothing listens: the next address is tried."""
    send(f"tcp://localhost:{printer.port}", render_receipt(sample_receipt(), PROFILE), timeout=5)
    assert len(printer.wait_for_receipts(1)) == 1


@pytest.mark.parametrize("paper_mm", [58, 80])
def test_receipt_png_with_chinese_names_is_kept_as_an_artifact(
    request: pytest.FixtureRequest, tmp_path: Path, paper_mm: int
) -> None:
    document = sample_receipt(reprint=paper_mm == 58)
    with VirtualPrinter(tmp_path, paper_mm=paper_mm) as virtual:  # type: ignore[arg-type]
        profile = PrinterProfile(paper_mm=paper_mm)  # type: ignore[arg-type]
        send(f"tcp://127.0.0.1:{virtual.port}", render_receipt(document, profile), timeout=5)
        (receipt,) = virtual.wait_for_receipts(1)
    png = receipt.files[1]
    artifacts = request.config.rootpath / "test-artifacts" / "receipts"
    artifacts.mkdir(parents=True, exist_ok=True)
    kept = artifacts / f"receipt_{paper_mm}mm.png"
    kept.write_bytes(png.read_bytes())
    with Image.open(kept) as image:
        assert image.width == profile.dots + 16
        assert image.height > 1000
        assert image.convert("L").getextrema() == (0, 255)


@pytest.mark.anyio
async def test_serve_runs_in_the_event_loop_until_cancelled(tmp_path: Path, free_port: int) -> None:
    task = asyncio.create_task(serve("127.0.0.1", free_port, tmp_path))
    try:
        reader, writer = await _connect_once_listening(free_port)
        writer.write(render_receipt(sample_receipt(), PROFILE) + b"\x10\x04\x01")
        await writer.drain()
        reply = await asyncio.wait_for(reader.readexactly(1), 5)
        writer.close()
        await writer.wait_closed()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert reply == b"\x12"
    assert (tmp_path / "1.txt").read_text(encoding="utf-8").endswith("[CUT]\n")


async def _connect_once_listening(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    for _ in range(250):
        try:
            return await asyncio.open_connection("127.0.0.1", port)
        except ConnectionRefusedError:
            await asyncio.sleep(0.02)
    raise AssertionError(f"nothing listening on 127.0.0.1:{port}")
