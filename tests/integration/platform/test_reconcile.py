"""Reconciling a day of sales and refunds with the platform double, and resending what it lacks."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from datetime import UTC, date, datetime, timedelta

import anyio
import httpx
import pytest

from pos.catalog.tables import Supplier
from pos.errors import Unavailable
from pos.events import dead
from pos.events.outbox import MAX_ATTEMPTS, dispatch_due
from pos.events.tables import OutboxEvent
from pos.orders import service as orders
from pos.platform.reconcile import (
    platform_totals,
    reconcile,
    unforwarded_sales,
    unreversed_refunds,
)
from pos.platform.relay import Relay, platform_client
from pos.platform.schemas import TransactionDoc
from pos.platform.tables import CertifiedTransaction
from pos.settings import Settings
from pos.stores.tables import Store
from tests.helpers.dripping import dripping_server
from tests.helpers.shop import Shop
from tests.integration.platform.conftest import (
    LATE_IN_SHANGHAI,
    MERCHANT,
    DoubleServer,
    clock_at,
    forward_all,
    made_up_sale,
    move_store,
    paid_sale,
    run_outbox,
)

pytestmark = pytest.mark.anyio

_T = CertifiedTransaction


async def _mixed_day(shop: Shop) -> date:
    """Sales of certified, weighed and uncertified goods; partial and full refunds; all sent."""
    noodles = await shop.add(price_fen=1250)
    plums = await shop.add("kg", price_fen=998, stock=100_000)
    water = await shop.add(price_fen=200, certified=False)
    sales = [
        await paid_sale(shop, {"product_id": noodles, "quantity": 2}),
        await paid_sale(
            shop,
            {"product_id": noodles, "quantity": 1},
            {"product_id": plums, "weight_g": 1085},
            {"product_id": water, "quantity": 3},
        ),
        await paid_sale(shop, {"product_id": plums, "weight_g": 333}),
        await paid_sale(shop, {"product_id": water, "quantity": 1}),
    ]
    await orders.record_refund(sales[1].id, amount_fen=777, restock=None)
    await orders.record_refund(sales[1].id, amount_fen=1001, restock={noodles: 1})
    await orders.record_refund(sales[2].id, amount_fen=sales[2].total_fen, restock=None)
    await run_outbox()
    row = await _T.select(_T.business_day).first()
    assert row is not None
    return row["business_day"]  # type: ignore[no-any-return]


async def test_a_mixed_day_reconciles_then_names_exactly_a_lost_transaction(
    shop: Shop, double: DoubleServer, relay: Relay, settings: Settings
) -> None:
    await double.start()
    day = await _mixed_day(shop)
    await forward_all(relay)
    # The outbox runs different orders' events at once: rows come in no fixed order.
    kinds = sorted(row["kind"] for row in await _T.select(_T.kind))
    assert kinds == ["reversal", "reversal", "reversal", "sale", "sale", "sale"]
    report = await reconcile(day, settings)
    assert report.differences == []
    assert report.local_transactions == report.platform_transactions == 6
    lost_id = next(i for i in await _ids() if i.startswith(f"{MERCHANT}-R"))
    await double.forget(lost_id)
    report = await reconcile(day, settings)
    named = [d.key for d in report.differences if d.scope == "transaction"]
    assert named == [lost_id]
    assert {d.scope for d in report.differences} == {"transaction", "product", "county", "supplier"}


async def _ids() -> list[str]:
    return [row["transaction_id"] for row in await _T.select(_T.transaction_id).order_by(_T.id)]


async def test_the_reconcile_command_resends_what_the_platform_lacks(
    shop: Shop, double: DoubleServer, relay: Relay, settings: Settings
) -> None:
    await double.start()
    day = await _mixed_day(shop)
    await forward_all(relay)
    lost_id = (await _ids())[0]
    await double.forget(lost_id)
    found = await _command(settings, "--date", day.isoformat())
    assert found.returncode == 1
    assert f"{MERCHANT} transaction {lost_id}: here " in found.stdout.decode()
    fixed = await _command(settings, "--date", day.isoformat(), "--resend")
    assert fixed.returncode == 0, fixed.stderr.decode()
    assert f"resent {lost_id}" in fixed.stdout.decode()
    assert "0 differences" in fixed.stdout.decode()
    assert (await reconcile(day, settings)).differences == []
    # Forgetting a transaction forgets its deliveries: the resend is its only one now.
    assert await double.counts() == {"transactions": 6, "deliveries": 6}


async def _command(settings: Settings, *args: str) -> anyio.abc.Process:
    keys = {
        merchant: key.get_secret_value()
        for merchant, key in settings.platform_merchant_keys.items()
    }
    env = {
        **os.environ,
        "POS_DATABASE_URL": settings.database_url,
        "POS_PLATFORM_URL": settings.platform_url or "",
        "POS_PLATFORM_MERCHANT_KEYS": json.dumps(keys),
    }
    command = [sys.executable, "-m", "pos.cli", "platform", "reconcile", *args]
    return await anyio.run_process(command, env=env, check=False)


async def _last_outbox_error() -> str:
    row = (
        await OutboxEvent.select(OutboxEvent.last_error)
        .where(OutboxEvent.kind == orders.ORDER_PAID)
        .first()
    )
    assert row is not None
    return str(row["last_error"])


async def test_a_sale_of_a_store_without_merchant_id_fails_naming_the_store(shop: Shop) -> None:
    await Store.update({Store.merchant_id: ""}).where(Store.id == shop.store_id)
    noodles = await shop.add(price_fen=1250)
    await paid_sale(shop, {"product_id": noodles, "quantity": 1})
    await dispatch_due()
    assert f"store {shop.store_id} has no merchant id" in await _last_outbox_error()
    assert not await _T.exists()


async def test_a_sale_of_a_supplier_without_credit_code_fails_naming_the_supplier(
    shop: Shop,
) -> None:
    await Supplier.update({Supplier.credit_code: ""}).where(Supplier.id == shop.supplier_id)
    noodles = await shop.add(price_fen=1250)
    await paid_sale(shop, {"product_id": noodles, "quantity": 1})
    await dispatch_due()
    assert f"supplier {shop.supplier_id} has no credit code" in await _last_outbox_error()
    assert not await _T.exists()


async def test_a_paid_sale_never_forwarded_is_reported_though_both_sides_agree(
    shop: Shop, double: DoubleServer, relay: Relay, settings: Settings
) -> None:
    await double.start()
    day = await _mixed_day(shop)
    await forward_all(relay)
    noodles = await shop.add(price_fen=1250)
    water = await shop.add(price_fen=200, certified=False)
    lost = await paid_sale(
        shop, {"product_id": noodles, "quantity": 2}, {"product_id": water, "quantity": 1}
    )
    await paid_sale(shop, {"product_id": water, "quantity": 1})
    # As if its handler had failed until the event died: no certified transaction is written.
    await OutboxEvent.delete().where(OutboxEvent.done_at.is_null())
    report = await reconcile(day, settings)
    assert [d.model_dump() for d in report.differences] == [
        {
            "merchant_id": MERCHANT,
            "scope": "order",
            "key": str(lost.id),
            "local_fen": 2500,
            "platform_fen": None,
        }
    ]


async def test_a_day_reconciles_its_sales_though_the_store_changed_zone_since(
    shop: Shop, double: DoubleServer, relay: Relay, settings: Settings
) -> None:
    await double.start()
    noodles = await shop.add(price_fen=1250)
    await paid_sale(shop, {"product_id": noodles, "quantity": 2}, paid_at=LATE_IN_SHANGHAI)
    await move_store(shop, "Asia/Tokyo")
    await run_outbox()
    await forward_all(relay)

    report = await reconcile(date(2026, 12, 3), settings)
    assert (report.local_transactions, report.platform_transactions) == (1, 1)
    assert report.differences == []
    assert (await reconcile(date(2026, 12, 4), settings)).differences == []


async def test_a_sale_never_forwarded_is_missed_on_its_day_not_on_the_stores_day_now(
    shop: Shop,
) -> None:
    noodles = await shop.add(price_fen=1250)
    lost = await paid_sale(shop, {"product_id": noodles, "quantity": 2}, paid_at=LATE_IN_SHANGHAI)
    await move_store(shop, "Asia/Tokyo")
    [missing] = await unforwarded_sales(date(2026, 12, 3))
    assert (missing.key, missing.local_fen) == (str(lost.id), 2500)
    assert await unforwarded_sales(date(2026, 12, 4)) == []


async def test_a_resend_counts_only_what_it_sent_not_rows_another_relay_holds(
    shop: Shop, double: DoubleServer, relay: Relay, settings: Settings
) -> None:
    await double.start()
    day = await _mixed_day(shop)
    await forward_all(relay)
    # Two sales: a reversal waits for its sale, which the other relay may be the one holding.
    sales = await _T.select(_T.transaction_id).where(_T.kind == "sale").order_by(_T.id)
    leased_id, lost_id = (row["transaction_id"] for row in sales[:2])
    await double.forget(leased_id)
    await double.forget(lost_id)
    lease = {
        _T.claimed_by: "another-relay",
        _T.claimed_until: datetime.now(UTC) + timedelta(minutes=1),
    }
    await _T.update(lease).where(_T.transaction_id == leased_id)
    report = await reconcile(day, settings, resend=True)
    assert report.resent == [lost_id]
    assert [d.key for d in report.differences if d.scope == "transaction"] == [leased_id]


async def test_a_refund_never_recorded_as_a_reversal_is_named_until_its_event_is_retried(
    shop: Shop, double: DoubleServer, relay: Relay, settings: Settings
) -> None:
    await double.start()
    noodles = await shop.add(price_fen=1250)
    sale = await paid_sale(shop, {"product_id": noodles, "quantity": 2})
    await run_outbox()
    await orders.record_refund(sale.id, amount_fen=sale.total_fen, restock=None)
    # As if its handler had failed until the event died (say, while the sale was not recorded).
    died = {OutboxEvent.dead_at: datetime.now(UTC), OutboxEvent.attempts: MAX_ATTEMPTS}
    await OutboxEvent.update(died).where(OutboxEvent.kind == orders.ORDER_REFUNDED)
    await forward_all(relay)
    row = await _T.select(_T.business_day).first()
    assert row is not None
    # Both sides count the 2500 fen sale; neither knows that it was all refunded.
    [missing] = (await reconcile(row["business_day"], settings)).differences
    assert (missing.scope, missing.local_fen, missing.platform_fen) == ("refund", 2500, None)
    assert missing.key.startswith(f"{MERCHANT}-R{sale.id}-")
    await dead.retry(kind=orders.ORDER_REFUNDED)
    await run_outbox()
    await forward_all(relay)
    assert (await reconcile(row["business_day"], settings)).differences == []


async def test_a_refund_never_reversed_is_missed_on_the_day_it_was_made_not_on_the_stores_now(
    shop: Shop,
) -> None:
    # Today at 23:30 in Shanghai, 00:30 tomorrow in Tokyo: its event, written now, is near both.
    today = datetime.now(UTC).date()
    late = datetime.combine(today, datetime.min.time(), UTC) + timedelta(hours=15, minutes=30)
    noodles = await shop.add(price_fen=1250)
    sale = await paid_sale(
        shop, {"product_id": noodles, "quantity": 2}, paid_at=late - timedelta(hours=1)
    )
    await run_outbox()
    with clock_at(orders, late):
        await orders.record_refund(sale.id, amount_fen=sale.total_fen, restock=None)
    await move_store(shop, "Asia/Tokyo")  # and the refund's handler has not run yet
    [missing] = await unreversed_refunds(today)
    assert (missing.scope, missing.local_fen) == ("refund", 2500)
    assert await unreversed_refunds(today + timedelta(days=1)) == []


async def test_a_day_of_more_certified_orders_than_postgres_bind_parameters_is_checked(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 33,000 certified orders paid over all stores, none recorded: faked, as writing them is slow.
    paid = [{"order_id": n, "store_id": shop.store_id, "total_fen": 100} for n in range(1, 33_001)]

    async def certified_lines_paid(day: date) -> list[dict[str, object]]:
        return paid

    monkeypatch.setattr(orders, "certified_lines_paid", certified_lines_paid)
    assert len(await unforwarded_sales(date(2026, 11, 28))) == 33_000


async def test_a_resend_of_more_ids_than_a_query_takes_sends_each_sale_before_its_reversal(
    db: str, double: DoubleServer, settings: Settings
) -> None:
    # A busy day the platform lost: 1,001 sales and a refund of one whose id sorts late.
    await double.start()
    day = datetime.now(UTC).date()
    sales = [made_up_sale(number, day) for number in range(1, 1002)]
    refunded = sales[998]
    reversal = refunded.model_copy(
        update={
            "transaction_id": f"{MERCHANT}-R999-1",
            "kind": "reversal",
            "original_transaction_id": refunded.transaction_id,
        }
    )
    rows = [_sent_row(doc, order_id=number) for number, doc in enumerate(sales, 1)]
    rows.append(_sent_row(reversal, order_id=999))
    for start in range(0, len(rows), 250):
        await _T.insert(*rows[start : start + 250])

    report = await reconcile(day, settings, resend=True)

    assert len(report.resent) == 1002
    arrived = _arrival_order(double)
    assert arrived.index(refunded.transaction_id) < arrived.index(reversal.transaction_id)


def _sent_row(doc: TransactionDoc, *, order_id: int) -> CertifiedTransaction:
    return _T(
        transaction_id=doc.transaction_id,
        kind=doc.kind,
        order_id=order_id,
        store_id=1,
        merchant_id=doc.merchant_id,
        business_day=doc.business_day,
        amount_fen=doc.amount_fen,
        body=doc.model_dump_json(),
        state="sent",
        next_attempt_at=None,
        sent_at=datetime.now(UTC),
    )


def _arrival_order(double: DoubleServer) -> list[str]:
    with sqlite3.connect(double.database) as books:
        rows = books.execute("SELECT transaction_id FROM txn ORDER BY rowid").fetchall()
    return [row[0] for row in rows]


async def test_totals_the_platform_answers_unreadably_are_unavailable(settings: Settings) -> None:
    def garbled(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>maintenance</html>")

    transport = httpx.MockTransport(garbled)
    async with httpx.AsyncClient(transport=transport, base_url="http://platform.test") as client:
        with pytest.raises(Unavailable) as refused:
            await platform_totals(client, settings, MERCHANT, date(2026, 12, 1))
    assert refused.value.code == "platform_error"
    assert "maintenance" in refused.value.detail


async def test_totals_the_platform_drips_are_given_up_on_at_the_timeout(settings: Settings) -> None:
    async with dripping_server() as url:
        dripping = settings.model_copy(update={"platform_url": url})
        async with platform_client(dripping) as client:
            with pytest.raises(Unavailable) as refused:
                await platform_totals(client, dripping, MERCHANT, date(2026, 12, 1))
    assert (refused.value.code, refused.value.detail) == (
        "platform_down",
        "the platform gave no whole answer within 2 s",
    )
