"""The worker wiring: with the embedded worker on, a paid order prints with no one driving it."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from functools import partial

import anyio
import pytest

from pos.app import create_app
from pos.events import outbox
from pos.printing import queue
from pos.printing.jobs import ClaimedJob, claim_due
from pos.printing.queue import PrintSender
from pos.printing.service import OrderPaidHandler
from pos.printing.tables import PrintJob
from pos.settings import Settings
from pos.stores.tables import Printer
from printers import VirtualPrinter
from tests.integration.printing.conftest import (
    Counter80,
    paid_event,
    paid_sale,
    sell,
    wait_for_receipts,
)

pytestmark = pytest.mark.anyio


async def test_embedded_worker_prints_a_paid_order(
    settings: Settings, counter: Counter80, virtual: VirtualPrinter
) -> None:
    app = create_app(settings.model_copy(update={"run_worker": True}))
    async with app.lifespan():
        sold = await sell(counter)
        (receipt,) = await wait_for_receipts(virtual, 1)
    assert any(
        line.startswith("单号") and line.endswith(f" {sold.number}")
        for line in receipt.decoded.text_lines
    )
    assert [row["state"] for row in await PrintJob.select(PrintJob.state)] == ["printed"]


async def test_the_sender_wakes_for_print_jobs_not_for_other_events(
    settings: Settings,
    counter: Counter80,
    sender: PrintSender,
    virtual: VirtualPrinter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    claims = 0

    async def counted(lease: timedelta, *, limit: int | None = None) -> list[ClaimedJob]:
        nonlocal claims
        claims += 1
        return await claim_due(lease, limit=limit)

    monkeypatch.setattr(queue, "claim_due", counted)
    sold = await sell(counter)  # its receipt is not queued yet
    stop = anyio.Event()
    async with anyio.create_task_group() as group:
        group.start_soon(partial(sender.run, stop, poll_s=30))
        await anyio.sleep(0.2)
        for _ in range(5):
            outbox.notify()  # other work: the sender keeps waiting
            await anyio.sleep(0.05)
        assert claims == 1
        await OrderPaidHandler(settings.public_url, "s" * 32)(await paid_event(sold.id))
        await wait_for_receipts(virtual, 1)
        stop.set()
    assert claims >= 2


async def test_a_receipt_prints_once_behind_many_unreachable_printers(
    counter: Counter80,
    settings: Settings,
    virtual: VirtualPrinter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A zone's network is down: each send to one of its printers takes the whole timeout.

    A job claimed and then left waiting for a thread outlasts its lease, is claimed again and
    prints twice. Scaled down from the defaults (10 s timeout, 50 s lease, anyio's 40 worker
    threads, 200 printers ahead): 0.25 s, 1.25 s, 8 threads, 80 printers.
    """
    monkeypatch.setattr(anyio.to_thread.current_default_thread_limiter(), "total_tokens", 8)
    monkeypatch.setattr(queue, "STATUS_TIMEOUT_S", 0.25)  # the stop waits for status reads
    sender = PrintSender(settings.model_copy(update={"print_timeout_s": 0.25}))
    sender.lease = timedelta(seconds=1.25)
    with socket.create_server(("127.0.0.1", 0), backlog=1024) as black_hole:
        url = f"tcp://127.0.0.1:{black_hole.getsockname()[1]}"  # accepts, never answers
        first = await paid_sale(counter)
        await queue_copies(first.id, await add_printers(counter.shop.store_id, url, 80))
        sold = await paid_sale(counter, plums_g=500)  # the good printer's, the newest job
        stop = anyio.Event()
        async with anyio.create_task_group() as group:
            group.start_soon(sender.run, stop)
            await wait_for_receipts(virtual, 1)
            stop.set()  # a second copy would be sending now, and is waited for
    await anyio.sleep(0.2)  # for the printer to read it
    (receipt,) = virtual.receipts
    assert any(sold.number in line for line in receipt.decoded.text_lines)


async def add_printers(store_id: int, url: str, count: int) -> list[int]:
    rows = [
        Printer(store=store_id, name=f"p{n}", connection_url=url, paper_width_mm=80)
        for n in range(count)
    ]
    return [row["id"] for row in await Printer.insert(*rows).returning(Printer.id)]


async def queue_copies(order_id: int, printer_ids: list[int]) -> None:
    """The order's receipt queued on `printer_ids`: the first moved there, the rest copies."""
    job = await PrintJob.select().where(PrintJob.order == order_id).first()
    assert job is not None
    await PrintJob.update({PrintJob.printer: printer_ids[0]}).where(PrintJob.id == job["id"])
    copies = [
        PrintJob(
            printer=printer_id,
            order=order_id,
            kind="receipt",
            document=job["document"],
            state="queued",
            next_attempt_at=datetime.now(UTC),
        )
        for printer_id in printer_ids[1:]
    ]
    await PrintJob.insert(*copies)
