"""Relays at once, a round outlasting its lease, and a relay killed with SIGKILL mid-send: each
transaction counted once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path

import anyio
import httpx
import pytest

from pos.platform.reconcile import reconcile
from pos.platform.relay import Relay
from pos.platform.tables import CertifiedTransaction
from pos.settings import Settings
from tests.helpers.shop import Shop
from tests.integration.platform.conftest import (
    DoubleServer,
    forward_all,
    made_up_sale,
    paid_sale,
    pending_rows,
    run_outbox,
)

pytestmark = pytest.mark.anyio

_T = CertifiedTransaction


async def test_four_relays_at_once_send_each_transaction_once(
    shop: Shop, double: DoubleServer, relay: Relay, settings: Settings
) -> None:
    if settings.is_sqlite:
        pytest.skip("SQLite takes one relay")
    await double.start()
    await pending_rows(600)
    async with anyio.create_task_group() as group:
        for _ in range(4):
            group.start_soon(forward_all, Relay(settings, relay.client))
    assert await double.counts() == {"transactions": 600, "deliveries": 600}
    assert await _T.count().where(_T.state == "sent") == 600


async def test_a_round_outlasting_its_lease_leaves_what_another_relay_took_over(
    db: str,
    double: DoubleServer,
    relay: Relay,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await double.start()
    await _one_sale_each("XM-A", "XM-B", "XM-C")
    late = timedelta(0)
    other_rounds: list[int] = []

    class Clock(datetime):
        """The relays' clock, as late as the slow platform made it."""

        @classmethod
        def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
            return datetime.now(UTC) + late

    async def slow_platform(request: httpx.Request) -> None:
        nonlocal late
        late += timedelta(seconds=settings.platform_lease_s * 2 / 3)  # per merchant
        other_rounds.append(await relay.round())  # another relay's round meanwhile

    monkeypatch.setattr("pos.platform.relay.datetime", Clock)
    hooks = {"request": [slow_platform]}
    async with httpx.AsyncClient(base_url=double.url, event_hooks=hooks) as client:
        assert await Relay(settings, client).round() == 3
    assert await double.counts() == {"transactions": 3, "deliveries": 3}
    assert other_rounds == [0, 1]  # XM-C's sale: its lease passed while XM-B's was sent
    rows = await _T.select(_T.state, _T.attempts).order_by(_T.merchant_id)
    # Attempts count claims: XM-C's first one lapsed before it was sent.
    assert [(row["state"], row["attempts"]) for row in rows] == [
        ("sent", 1),
        ("sent", 1),
        ("sent", 2),
    ]


async def _one_sale_each(*merchants: str) -> None:
    """A pending certified sale of each of `merchants`, due now."""
    for number, merchant in enumerate(merchants, start=1):
        doc = made_up_sale(number).model_copy(
            update={"merchant_id": merchant, "transaction_id": f"{merchant}-S{number}"}
        )
        await _T.insert(
            _T(
                transaction_id=doc.transaction_id,
                kind="sale",
                order_id=number,
                store_id=1,
                merchant_id=merchant,
                business_day=doc.business_day,
                amount_fen=doc.amount_fen,
                body=doc.model_dump_json(),
                next_attempt_at=datetime.now(UTC),
            )
        )


@contextmanager
def relay_process(settings: Settings, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`pos worker` (outbox and relay) on the test's database, with a 2 s lease."""
    keys = {m: key.get_secret_value() for m, key in settings.platform_merchant_keys.items()}
    env = {
        **os.environ,
        "POS_DATABASE_URL": settings.database_url,
        "POS_PLATFORM_URL": settings.platform_url or "",
        "POS_PLATFORM_MERCHANT_KEYS": json.dumps(keys),
        "POS_PLATFORM_LEASE_S": "2",
        "POS_PLATFORM_IDLE_S": "0.1",
        "POS_PLATFORM_TIMEOUT_S": "1.5",  # the lease must outlast one request
    }
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "pos.cli", "worker"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def test_a_relay_killed_mid_send_then_restarted_loses_nothing_and_counts_nothing_twice(
    shop: Shop, double: DoubleServer, settings: Settings, tmp_path: Path
) -> None:
    await double.start()
    noodles = await shop.add(price_fen=1250)
    for quantity in range(1, 31):
        await paid_sale(shop, {"product_id": noodles, "quantity": quantity % 3 + 1})
    await run_outbox()
    await double.fail("slow", delay_s=5)
    log = tmp_path / "relay.log"
    with relay_process(settings, log) as first, anyio.fail_after(30):
        while not (await double.counts())["transactions"]:
            assert first.poll() is None, log.read_text()
            await anyio.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait()
    stored = (await double.counts())["transactions"]
    assert await _T.count().where(_T.state == "sent") == 0
    await double.fail("none")
    with relay_process(settings, log) as second, anyio.fail_after(30):
        while await _T.exists().where(_T.state != "sent"):
            assert second.poll() is None, log.read_text()
            await anyio.sleep(0.1)
    assert await double.counts() == {"transactions": 30, "deliveries": 30 + stored}
    day = (await _T.select(_T.business_day).first() or {})["business_day"]
    assert (await reconcile(day, settings)).differences == []
