"""Platform fixtures: the double as a real uvicorn server on a free port, paid sales, a relay.

The double runs in a thread with its own SQLite file; the `double` fixture chooses its port but
leaves starting it to the test (`await double.start()`), so a test can begin with the platform
down. The embedded worker is off: tests run the outbox and the relay themselves.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from pydantic import SecretStr

from pos.analytics import ratings
from pos.events.outbox import dispatch_due, unregister
from pos.events.tables import OutboxEvent
from pos.orders import service as orders
from pos.orders.schemas import OrderOut
from pos.platform import service as platform
from pos.platform.double.app import create_double_app
from pos.platform.double.books import PlatformRating
from pos.platform.relay import Relay, platform_client
from pos.platform.schemas import TransactionDoc, TransactionLine
from pos.platform.tables import CertifiedTransaction
from pos.settings import Settings
from pos.stores.tables import Store
from tests.helpers.shop import Shop, open_shop

MERCHANT = "XM-TEST-0001"
# 23:30 on 3 December in Shanghai (the store's zone), already 00:30 on the 4th in Tokyo.
LATE_IN_SHANGHAI = datetime(2026, 12, 3, 15, 30, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def double_port() -> int:
    return free_port()


@pytest.fixture
def settings(database_url: str, double_port: int) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        redis_prefix=f"pos_test_{uuid.uuid4().hex[:8]}",
        run_worker=False,
        platform_url=f"http://127.0.0.1:{double_port}",
        platform_merchant_keys={MERCHANT: SecretStr("key-of-the-test-merchant")},
        platform_timeout_s=2,
        platform_max_attempts=4,
        platform_retry_first_s=0.01,
        platform_retry_longest_s=0.05,
        platform_lease_s=30,
    )


@dataclass
class DoubleServer:
    """The platform double on 127.0.0.1:`port`, started and stopped by the test."""

    database: Path
    settings: Settings
    port: int
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = create_double_app(self.database, self.settings)
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", timeout_graceful_shutdown=1
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "the double did not start"
            await anyio.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=15)
            self._server = self._thread = None

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as client:
            response = await client.request(method, path, **kwargs)
        response.raise_for_status()
        return response

    async def fail(self, mode: str, **more: Any) -> None:
        await self._call("PUT", "/control/failure", json={"mode": mode, **more})

    async def counts(self) -> dict[str, int]:
        counts: dict[str, int] = (await self._call("GET", "/control/counts")).json()
        return counts

    async def deliveries(self, transaction_id: str) -> int:
        response = await self._call("GET", f"/control/transactions/{transaction_id}")
        return int(response.json()["deliveries"])

    async def ratings(self) -> list[PlatformRating]:
        response = await self._call("GET", "/control/ratings")
        return [PlatformRating.model_validate(item) for item in response.json()]

    async def forget(self, transaction_id: str) -> None:
        await self._call("DELETE", f"/control/transactions/{transaction_id}")


@pytest.fixture
def double(tmp_path: Path, settings: Settings, double_port: int) -> Iterator[DoubleServer]:
    server = DoubleServer(tmp_path / "platform.sqlite3", settings, double_port)
    yield server
    server.stop()


@pytest.fixture
def handlers() -> Iterator[None]:
    """The platform's outbox handlers, registered for the test only."""
    platform.install()
    yield
    unregister(orders.ORDER_PAID, platform.on_order_paid)
    unregister(orders.ORDER_REFUNDED, platform.on_order_refunded)
    unregister(ratings.RATING_SUBMITTED, platform.on_rating_event)
    unregister(ratings.RATING_MODERATED, platform.on_rating_event)


@pytest.fixture
async def relay(settings: Settings) -> AsyncIterator[Relay]:
    async with platform_client(settings) as client:
        yield Relay(settings, client)


@pytest.fixture
async def shop(db: str, handlers: None) -> Shop:
    """A shop whose store is the test merchant's."""
    opened = await open_shop()
    await Store.update({Store.merchant_id: MERCHANT}).where(Store.id == opened.store_id)
    return opened


async def paid_sale(
    shop: Shop, *lines: dict[str, Any], paid_at: datetime | None = None
) -> OrderOut:
    """An order of `lines` at the shop's counter, paid now or at `paid_at`."""
    order = (await shop.order(*lines)).order
    await orders.mark_paid(
        order.id,
        amount_fen=order.total_fen,
        method="wechat_qr",
        reference=f"4200{order.id:024d}",
        payer_hash=None,
        paid_at=paid_at or datetime.now(UTC),
    )
    return order


async def move_store(shop: Shop, time_zone: str) -> None:
    """A manager changes the store's time zone."""
    await Store.update({Store.time_zone: time_zone}).where(Store.id == shop.store_id)


@contextlib.contextmanager
def clock_at(module: ModuleType, at: datetime) -> Iterator[None]:
    """Within, `module` takes the time to be `at`: when a refund or a rating is written."""

    class Stopped(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
            return at

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, "datetime", Stopped)
        yield


async def run_outbox() -> None:
    """Run outbox events until none is left to run (or each left has failed for good).

    A refund or a rating may run before its sale (the outbox need not keep their order) and is
    then put back for later: it is made due again at once rather than after its back-off.
    """
    while await dispatch_due() or await _due_again():
        pass


async def _due_again() -> bool:
    now = datetime.now(UTC)
    put_back = (
        OutboxEvent.done_at.is_null()
        & OutboxEvent.dead_at.is_null()
        & (OutboxEvent.attempts > 0)
        & (OutboxEvent.available_at > now)
    )
    rows = (
        await OutboxEvent.update({OutboxEvent.available_at: now})
        .where(put_back)
        .returning(OutboxEvent.id)
    )
    return bool(rows)


async def forward_all(relay: Relay, *, seconds: float = 10) -> None:
    """Run relay rounds until nothing is pending (rows waiting for a retry are waited for)."""
    with anyio.fail_after(seconds):
        while await CertifiedTransaction.exists().where(CertifiedTransaction.state == "pending"):
            if not await relay.round():
                await anyio.sleep(0.02)


async def states() -> dict[str, str]:
    """Each certified transaction's state, by transaction id."""
    rows = await CertifiedTransaction.select(
        CertifiedTransaction.transaction_id, CertifiedTransaction.state
    )
    return {row["transaction_id"]: row["state"] for row in rows}


def made_up_sale(number: int, day: date | None = None) -> TransactionDoc:
    """A made-up certified sale of the test merchant."""
    day = day or datetime.now(UTC).date()
    line = TransactionLine(
        line_no=1,
        certificate_no=f"CERT{number % 7}",
        product_name="蒲公英面条",
        supplier_code="91341623MA2N000001",
        supplier_name="利辛县供应商",
        origin_county_code="341623",
        quantity=1,
        weight_g=None,
        amount_fen=100 + number,
    )
    return TransactionDoc(
        transaction_id=f"{MERCHANT}-S{number}",
        kind="sale",
        original_transaction_id=None,
        merchant_id=MERCHANT,
        store_code="S1",
        counter_code="C1",
        device_id=None,
        order_number=f"{number:012d}",
        occurred_at=datetime.now(UTC),
        business_day=day,
        payment_reference=f"pay-{number}",
        buyer_region=None,
        order_total_fen=100 + number,
        amount_fen=100 + number,
        lines=[line],
    )


async def pending_rows(count: int) -> None:
    """`count` pending certified transactions of made-up sales, due now."""
    day = datetime.now(UTC).date()
    docs = [made_up_sale(number, day) for number in range(1, count + 1)]
    rows = [
        CertifiedTransaction(
            transaction_id=doc.transaction_id,
            kind="sale",
            order_id=int(doc.order_number),
            store_id=1,
            merchant_id=MERCHANT,
            business_day=day,
            amount_fen=doc.amount_fen,
            body=doc.model_dump_json(),
            next_attempt_at=datetime.now(UTC),
        )
        for doc in docs
    ]
    await CertifiedTransaction.insert(*rows)


SET_ASIDE_REASON = "a second sale of its order, written when a replay followed a merchant change"


async def set_aside_second_sale(order_id: int, merchant_id: str = "XM-TEST-0002") -> str:
    """The row the one-sale migration leaves of the order's second sale: `sale_replayed`, dead.

    A replay of `order_paid` after the store moved to another merchant wrote it before the
    migration (platform_2026_12_04t14_30_00_000000.py); returns its transaction id.
    """
    first = (
        await CertifiedTransaction.select(CertifiedTransaction.body)
        .where(CertifiedTransaction.order_id == order_id)
        .first()
    )
    assert first is not None
    sale = TransactionDoc.model_validate_json(first["body"])
    second = sale.model_copy(
        update={"transaction_id": f"{merchant_id}-S{order_id}", "merchant_id": merchant_id}
    )
    await CertifiedTransaction.insert(
        CertifiedTransaction(
            transaction_id=second.transaction_id,
            kind="sale_replayed",
            order_id=order_id,
            store_id=1,
            merchant_id=merchant_id,
            business_day=second.business_day,
            amount_fen=second.amount_fen,
            body=second.model_dump_json(),
            state="dead",
            next_attempt_at=None,
            dead_at=datetime.now(UTC),
            last_error=SET_ASIDE_REASON,
        )
    )
    return second.transaction_id
