"""Printing fixtures: fast retry settings, a virtual printer on a free port, paid sales.

The embedded worker is off: tests hand events to the handler and run the sender themselves.
"""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest

from pos.catalog.tables import Product
from pos.events.outbox import Event
from pos.events.tables import OutboxEvent
from pos.orders import service as orders
from pos.orders.schemas import OrderOut
from pos.printing.queue import PrintSender
from pos.printing.service import OrderPaidHandler
from pos.settings import Settings
from pos.stores.tables import Counter, Store
from printers import PrintedReceipt, VirtualPrinter
from tests.helpers.shop import Shop, open_shop
from tests.helpers.staff import add_printer


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        redis_prefix=f"pos_test_{uuid.uuid4().hex[:8]}",
        public_url="http://pos.example.cn",  # http: the test client sends no secure cookie
        run_worker=False,
        print_timeout_s=3,
        print_max_attempts=3,
        print_retry_first_s=0.01,
        print_retry_longest_s=0.05,
        print_recheck_s=0.01,
        printer_status_interval_s=0.2,
    )


@pytest.fixture
def sender(settings: Settings) -> PrintSender:
    return PrintSender(settings)


@pytest.fixture
def virtual(tmp_path: Path) -> Iterator[VirtualPrinter]:
    """A virtual 80 mm printer on a free 127.0.0.1 port, saving receipts under tmp_path."""
    printer = VirtualPrinter(tmp_path / "printed", paper_mm=80)
    printer.start("127.0.0.1", 0)
    yield printer
    printer.stop()


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on: connecting is refused."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port: int = server.getsockname()[1]
    return port


@pytest.fixture
def banner_port() -> Iterator[int]:
    """A service that greets each connection with a banner and hangs up, as SSH does.

    What a printer URL with a mistyped port reaches on a shop's network (SSH, telnet, FTP).
    """
    server = socket.create_server(("127.0.0.1", 0))

    def greet() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return  # closed: the test is over
            with connection:
                connection.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")

    thread = threading.Thread(target=greet, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    server.close()
    thread.join(5)


@dataclass
class Counter80:
    """A shop whose counter prints on `printer_id`, and the printing `order_paid` handler."""

    shop: Shop
    printer_id: int
    products: tuple[int, int, int]
    handler: OrderPaidHandler


@pytest.fixture
async def counter(virtual: VirtualPrinter, settings: Settings, db: str) -> Counter80:
    shop = await open_shop()
    await Store.update({Store.merchant_id: "M0000001"}).where(Store.id == shop.store_id)
    printer_id = await add_printer(shop.store_id, f"tcp://127.0.0.1:{virtual.port}")
    await Counter.update({Counter.printer: printer_id}).where(Counter.id == shop.counter_id)
    noodles = await shop.add("piece", price_fen=1250, stock=100)
    plums = await shop.add("kg", price_fen=998, stock=100_000)
    water = await shop.add("piece", price_fen=200, stock=100, certified=False)
    for product_id, name in (
        (noodles, "利辛蒲公英面条 500g"),
        (plums, "南部脆红李"),
        (water, "矿泉水"),
    ):
        await Product.update({Product.name_zh: name}).where(Product.id == product_id)
    handler = OrderPaidHandler(settings.public_url, settings.secret_key.get_secret_value())
    return Counter80(shop, printer_id, (noodles, plums, water), handler)


async def sell(counter: Counter80, *, plums_g: int = 1085) -> OrderOut:
    """Two noodles, weighed plums and uncertified water, paid by WeChat through orders."""
    noodles, plums, water = counter.products
    created = await counter.shop.order(
        {"product_id": noodles, "quantity": 2},
        {"product_id": plums, "weight_g": plums_g},
        {"product_id": water, "quantity": 3},
    )
    order = created.order
    await orders.mark_paid(
        order.id,
        amount_fen=order.total_fen,
        method="wechat_qr",
        reference=f"42000{order.id:023d}",
        payer_hash=None,
        paid_at=datetime.now(UTC),
    )
    return order


async def paid_sale(counter: Counter80, *, plums_g: int = 1085) -> OrderOut:
    """A sale as `sell` makes it, its `order_paid` event handed to the printing handler."""
    order = await sell(counter, plums_g=plums_g)
    await counter.handler(await paid_event(order.id))
    return order


async def paid_event(order_id: int) -> Event:
    """The `order_paid` event orders wrote for `order_id`, as the outbox hands it to handlers.

    Only the printing handler gets it: the test does not depend on the other consumers.
    """
    return await _event(orders.ORDER_PAID, str(order_id))


async def refunded_event(order_id: int) -> Event:
    """The one `order_refunded` event orders wrote for `order_id`, as handlers get it."""
    return await _event(orders.ORDER_REFUNDED, f"{order_id}:%")


async def _event(kind: str, key_pattern: str) -> Event:
    rows = await OutboxEvent.select().where(
        (OutboxEvent.kind == kind) & OutboxEvent.key.like(key_pattern)
    )
    assert len(rows) == 1
    (row,) = rows
    payload = json.loads(row["payload"]) if isinstance(row["payload"], str) else row["payload"]
    return Event(id=row["id"], kind=row["kind"], key=row["key"], payload=payload, attempts=1)


async def wait_for_receipts(virtual: VirtualPrinter, count: int) -> list[PrintedReceipt]:
    """The receipts once `count` were printed (the printer keeps each just after its cut)."""
    return await anyio.to_thread.run_sync(virtual.wait_for_receipts, count, 10.0)
