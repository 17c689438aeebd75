"""Payments fixtures: a controllable clock, an app whose sandbox notifies it in-loop, an order.

The embedded worker is off: tests run the outbox themselves with `run_due`, at the clock's time.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from litestar import Litestar
from pydantic import SecretStr

from pos.events.outbox import dispatch_due
from pos.orders.checkout import create_counter_order
from pos.orders.schemas import CounterOrderIn, LineIn
from pos.orders.service import get_order
from pos.orders.tokens import counter_qr_token
from pos.payments.plugin import build_payments
from pos.payments.provider import QueryResult
from pos.payments.sandbox import SandboxProvider
from pos.payments.settle import Payments
from pos.payments.tables import Payment
from pos.settings import Settings
from tests.helpers.clock import Clock
from tests.helpers.shop import Shop, open_shop
from tests.helpers.staff import device_headers


@dataclass
class Sent:
    """What the sandbox posted, and the answers it got."""

    posts: list[tuple[Mapping[str, str], bytes]]
    statuses: list[int]


@dataclass
class Bought:
    """An open order of one product (2 units at 12.50) and how to reach it."""

    shop: Shop
    product_id: int
    order_id: int
    token: str
    total_fen: int


@pytest.fixture
def settings(database_url: str) -> Settings:
    return payment_settings(database_url)


def payment_settings(database_url: str, **provider: Any) -> Settings:
    """Settings on `database_url`, without the embedded worker; `provider`: a real provider's."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        redis_prefix=f"pos_test_{uuid.uuid4().hex[:8]}",
        run_worker=False,
        **(own_secrets() | provider),
    )


def own_secrets() -> dict[str, SecretStr]:
    """Secrets of a real installation: a real provider refuses the demo's, which are public."""
    return {
        "secret_key": SecretStr(secrets.token_urlsafe(32)),
        "payer_salt": SecretStr(secrets.token_urlsafe(16)),
    }


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sent() -> Sent:
    return Sent([], [])


@pytest.fixture
async def pay_client(
    app: Litestar, client: httpx.AsyncClient, settings: Settings, clock: Clock, sent: Sent
) -> httpx.AsyncClient:
    """The client, with the app on `clock` and the sandbox notifying the app in-loop."""

    async def in_loop(url: str, headers: Mapping[str, str], body: bytes) -> int:
        sent.posts.append((dict(headers), body))
        response = await client.post(httpx.URL(url).path, headers=dict(headers), content=body)
        sent.statuses.append(response.status_code)
        return response.status_code

    app.state["payments"] = build_payments(settings, clock=clock)
    app.state["payment_sender"] = in_loop
    return client


@pytest.fixture
def payments(app: Litestar, pay_client: httpx.AsyncClient) -> Payments:
    """The payments context the app runs with."""
    ctx: Payments = app.state["payments"]
    return ctx


@pytest.fixture
def sandbox(payments: Payments) -> SandboxProvider:
    assert isinstance(payments.provider, SandboxProvider)
    return payments.provider


@pytest.fixture
async def bought(pay_client: httpx.AsyncClient, settings: Settings, clock: Clock) -> Bought:
    bought = await buy(settings)
    # The stock ledger reads the real time: a refund's goods come back at the clock's time of
    # asking, which must follow the shop's first stock count and the sale.
    clock.now = datetime.now(UTC)
    return bought


async def buy(settings: Settings) -> Bought:
    """A new shop's open order of 2 units at 12.50, created at its counter."""
    shop = await open_shop()
    product_id = await shop.add(price_fen=1250, stock=10)
    secret = settings.secret_key.get_secret_value()
    data = CounterOrderIn(
        lines=[LineIn(product_id=product_id, quantity=2)],
        counter_token=counter_qr_token(shop.counter_id, secret=secret),
    )
    created = await create_counter_order(
        shop.counter_id, data, idempotency_key=uuid.uuid4().hex, secret=secret
    )
    assert created.order.access_token is not None
    return Bought(shop, product_id, created.order.id, created.order.access_token, 2500)


def order_page(settings: Settings, bought: Bought) -> str:
    """The shopper's order page, where a provider sends the phone's browser back."""
    return f"{settings.public_url.rstrip('/')}/o/{bought.order_id}?token={bought.token}"


async def run_due(clock: Clock) -> int:
    """Run every outbox event due at the clock's time, until none is left; returns how many."""
    total = 0
    while claimed := await dispatch_due(now=clock()):
        total += claimed
    return total


async def start(
    client: httpx.AsyncClient, bought: Bought, body: dict[str, str], key: str | None = None
) -> httpx.Response:
    """POST a payment for the order as its shopper."""
    return await client.post(
        f"/api/orders/{bought.order_id}/payments",
        params={"token": bought.token},
        json=body,
        headers={"Idempotency-Key": key or uuid.uuid4().hex},
    )


async def scan(
    client: httpx.AsyncClient, bought: Bought, auth_code: str, key: str | None = None
) -> httpx.Response:
    """POST the payment code the shopper shows the scanner of the order's counter.

    As the counter's device: the order's token alone may not charge a code.
    """
    counter = await device_headers("counter", bought.shop.store_id, bought.shop.counter_id)
    return await client.post(
        f"/api/orders/{bought.order_id}/payments",
        json={"method": "code", "auth_code": auth_code},
        headers={**counter, "Idempotency-Key": key or uuid.uuid4().hex},
    )


async def payment_by_trade_no(out_trade_no: str) -> Payment:
    """The payment the provider knows by `out_trade_no`."""
    payment = await Payment.objects().get(Payment.out_trade_no == out_trade_no)
    assert payment is not None
    return payment


async def order_state(order_id: int) -> str:
    """The order's state as stored."""
    return (await get_order(order_id)).state


def query_paid_without_amount(sandbox: SandboxProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the sandbox's query answer like a gateway whose paid answer lacks its amount."""
    query = sandbox.query

    async def without_amount(out_trade_no: str) -> QueryResult:
        return replace(await query(out_trade_no), amount_fen=None)

    monkeypatch.setattr(sandbox, "query", without_amount)
