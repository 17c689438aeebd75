"""A partial refund pays back the goods it names: recorded on their lines, reversed at the
platform only when they are certified, and left out of the certified figures otherwise."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from pos.analytics import ratings, rollups
from pos.analytics.tables import Purchase, SalesDay
from pos.events.outbox import unregister
from pos.orders import service as orders
from pos.orders.tables import OrderLine
from pos.payments.provider import RefundResult
from pos.payments.sandbox import SandboxProvider
from pos.platform import service as platform
from pos.platform.schemas import TransactionDoc
from pos.platform.tables import CertifiedTransaction
from pos.stores.tables import Store
from tests.helpers.clock import Clock
from tests.helpers.shop import open_shop
from tests.helpers.staff import login_as
from tests.integration.payments.conftest import Bought, run_due, scan

pytestmark = pytest.mark.anyio


@pytest.fixture
def forwarding() -> Iterator[None]:
    """The platform's and the rollups' outbox handlers, registered for the test only."""
    platform.install()
    rollups.install()
    yield
    for kind in (orders.ORDER_PAID, orders.ORDER_REFUNDED):
        unregister(kind, platform.on_order_paid)
        unregister(kind, platform.on_order_refunded)
        unregister(kind, rollups.on_order_event)
    unregister(ratings.RATING_SUBMITTED, platform.on_rating_event)
    unregister(ratings.RATING_MODERATED, platform.on_rating_event)


@pytest.fixture
async def mixed(pay_client: httpx.AsyncClient, clock: Clock, forwarding: None) -> Bought:
    """A paid order, its sale forwarded: line 1 two packs of certified rice at 12.50 (the
    `product_id`), line 2 two uncertified apples at 6.00."""
    shop = await open_shop()
    await Store.update({Store.merchant_id: "XM-TEST-0001"}).where(Store.id == shop.store_id)
    rice = await shop.add(price_fen=1250, stock=10)
    apples = await shop.add(price_fen=600, stock=10, certified=False)
    created = await shop.order(
        {"product_id": rice, "quantity": 2}, {"product_id": apples, "quantity": 2}
    )
    assert created.order.access_token is not None
    bought = Bought(shop, rice, created.order.id, created.order.access_token, 3700)
    response = await scan(pay_client, bought, "134567890123456789")
    assert response.json()["status"] == "paid", response.text
    clock.now = datetime.now(UTC)
    await run_due(clock)
    await login_as(pay_client, "manager", shop.store_id)
    return bought


async def _apples(bought: Bought) -> int:
    line = await OrderLine.select(OrderLine.product).where(
        (OrderLine.order == bought.order_id) & (OrderLine.line_no == 2)
    )
    return int(line[0]["product"])


async def _refund(
    client: httpx.AsyncClient, bought: Bought, clock: Clock, body: dict[str, object]
) -> httpx.Response:
    response = await client.post(
        f"/api/stores/{bought.shop.store_id}/orders/{bought.order_id}/refunds",
        json={"reason": "spoiled", **body},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    clock.now = datetime.now(UTC)
    await run_due(clock)
    return response


async def _lines(bought: Bought) -> list[tuple[int, int, int]]:
    rows = await (
        OrderLine.select(OrderLine.line_no, OrderLine.refunded_fen, OrderLine.returned_units)
        .where(OrderLine.order == bought.order_id)
        .order_by(OrderLine.line_no)
    )
    return [(row["line_no"], row["refunded_fen"], row["returned_units"]) for row in rows]


async def _reversals(bought: Bought) -> list[TransactionDoc]:
    rows = await CertifiedTransaction.select(CertifiedTransaction.body).where(
        (CertifiedTransaction.order_id == bought.order_id)
        & (CertifiedTransaction.kind == "reversal")
    )
    return [TransactionDoc.model_validate_json(row["body"]) for row in rows]


async def _certified_figures(bought: Bought) -> tuple[int, int]:
    purchase = await Purchase.select(Purchase.certified_fen).where(
        Purchase.order_id == bought.order_id
    )
    cell = await SalesDay.select(SalesDay.certified_fen).where(
        (SalesDay.store_id == bought.shop.store_id) & (SalesDay.product_id == bought.product_id)
    )
    return purchase[0]["certified_fen"], cell[0]["certified_fen"]


async def test_a_partial_refund_of_an_uncertified_line_reverses_nothing_at_the_platform(
    pay_client: httpx.AsyncClient, mixed: Bought, clock: Clock
) -> None:
    assert await _certified_figures(mixed) == (2500, 2500)
    apples = await _apples(mixed)
    response = await _refund(pay_client, mixed, clock, {"amount_fen": 500, "returned": {apples: 1}})
    assert response.status_code == 201, response.text
    assert (response.json()["returned"], response.json()["restock"]) == ({str(apples): 1}, {})
    assert await _lines(mixed) == [(1, 0, 0), (2, 500, 1)]
    assert await _reversals(mixed) == []
    assert await _certified_figures(mixed) == (2500, 2500)
    apples_cell = await SalesDay.select(SalesDay.net_fen, SalesDay.quantity).where(
        SalesDay.product_id == apples
    )
    assert apples_cell == [{"net_fen": 700, "quantity": 1}]


async def test_a_refund_naming_the_certified_product_reverses_only_its_line(
    pay_client: httpx.AsyncClient, mixed: Bought, clock: Clock
) -> None:
    rice = mixed.product_id
    body = {"amount_fen": 1250, "restock": {rice: 1}}  # paying for the goods put back
    response = await _refund(pay_client, mixed, clock, body)
    assert response.status_code == 201, response.text
    assert response.json()["returned"] == {str(rice): 1}
    assert await _lines(mixed) == [(1, 1250, 1), (2, 0, 0)]
    [reversal] = await _reversals(mixed)
    assert [(line.line_no, line.amount_fen, line.quantity) for line in reversal.lines] == [
        (1, 1250, 1)
    ]
    assert reversal.amount_fen == 1250
    assert await _certified_figures(mixed) == (1250, 1250)


async def test_a_goodwill_refund_beyond_the_named_goods_reverses_its_share_of_the_rest(
    pay_client: httpx.AsyncClient, mixed: Bought, clock: Clock
) -> None:
    apples = await _apples(mixed)
    # One apple (600) and 1000 fen more, spread 2500 : 600 over what is left of the lines.
    response = await _refund(
        pay_client, mixed, clock, {"amount_fen": 1600, "returned": {apples: 1}}
    )
    assert response.status_code == 201, response.text
    assert await _lines(mixed) == [(1, 806, 0), (2, 794, 1)]
    [reversal] = await _reversals(mixed)
    assert [(line.amount_fen, line.quantity) for line in reversal.lines] == [(806, 0)]


async def test_goods_put_back_must_be_goods_the_refund_pays_for(
    pay_client: httpx.AsyncClient, mixed: Bought, clock: Clock
) -> None:
    apples = await _apples(mixed)
    body = {"amount_fen": 600, "restock": {apples: 2}, "returned": {apples: 1}}
    response = await _refund(pay_client, mixed, clock, body)
    assert (response.status_code, response.json()["code"]) == (422, "restock_not_returned")
    assert response.json()["product_id"] == apples
    assert await _lines(mixed) == [(1, 0, 0), (2, 0, 0)]
    assert (await orders.get_order(mixed.order_id)).refunded_fen == 0


async def test_goods_paid_for_once_cannot_be_paid_for_again(
    pay_client: httpx.AsyncClient, mixed: Bought, clock: Clock
) -> None:
    apples = await _apples(mixed)
    first = await _refund(pay_client, mixed, clock, {"amount_fen": 1200, "returned": {apples: 2}})
    assert first.status_code == 201, first.text
    again = await _refund(pay_client, mixed, clock, {"amount_fen": 100, "returned": {apples: 1}})
    assert (again.status_code, again.json()["code"]) == (422, "returned_more_than_sold")
    assert again.json()["returnable"] == 0
    assert await _lines(mixed) == [(1, 0, 0), (2, 1200, 2)]


async def test_goods_a_refund_still_pending_pays_for_count_before_money_moves(
    pay_client: httpx.AsyncClient,
    mixed: Bought,
    clock: Clock,
    sandbox: SandboxProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def processing(*_: object) -> RefundResult:
        return RefundResult("processing")

    monkeypatch.setattr(sandbox, "refund", processing)  # WeChat answers PROCESSING
    rice = mixed.product_id
    pending = await _refund(pay_client, mixed, clock, {"amount_fen": 1250, "returned": {rice: 1}})
    assert pending.json()["status"] == "pending"
    again = await _refund(pay_client, mixed, clock, {"amount_fen": 1250, "returned": {rice: 2}})
    assert (again.status_code, again.json()["code"]) == (422, "returned_more_than_sold")
    assert again.json()["returnable"] == 1
