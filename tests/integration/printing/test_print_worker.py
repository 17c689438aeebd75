"""The worker wiring: with the embedded worker on, a paid order prints with no one driving it."""

from __future__ import annotations

from datetime import timedelta
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
from printers import VirtualPrinter
from tests.integration.printing.conftest import (
    Counter80,
    paid_event,
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

    async def counted(lease: timedelta) -> list[ClaimedJob]:
        nonlocal claims
        claims += 1
        return await claim_due(lease)

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
