"""The worker wiring: with the embedded worker on, a paid order prints with no one driving it."""

from __future__ import annotations

import pytest

from pos.app import create_app
from pos.printing.tables import PrintJob
from pos.settings import Settings
from printers import VirtualPrinter
from tests.integration.printing.conftest import Counter80, sell, wait_for_receipts

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
