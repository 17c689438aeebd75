"""Certified transactions from paid orders to the platform double, through failures."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from piccolo.apps.migrations.tables import Migration

from pos.analytics import rollups
from pos.analytics import service as analytics
from pos.analytics.service import Scope
from pos.catalog.tables import Product
from pos.db import Statement
from pos.db.migrate import migrate
from pos.events.tables import OutboxEvent
from pos.orders import service as orders
from pos.platform import service as platform
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
    move_store,
    paid_sale,
    pending_rows,
    run_outbox,
    set_aside_second_sale,
    states,
)

pytestmark = pytest.mark.anyio

_T = CertifiedTransaction


async def test_sales_go_on_while_the_platform_is_down_and_each_arrives_once_when_back(
    shop: Shop, double: DoubleServer, relay: Relay
) -> None:
    noodles = await shop.add(price_fen=1250)
    for _ in range(5):
        await paid_sale(shop, {"product_id": noodles, "quantity": 2})
    await run_outbox()
    assert await relay.round() == 5
    assert set((await states()).values()) == {"pending"}
    row = await _T.select(_T.attempts, _T.last_error).first()
    assert row is not None
    assert row["attempts"] == 1
    assert "ConnectError" in row["last_error"]
    for _ in range(3):
        await paid_sale(shop, {"product_id": noodles, "quantity": 1})
    await run_outbox()
    await double.start()
    await forward_all(relay)
    assert set((await states()).values()) == {"sent"}
    assert await double.counts() == {"transactions": 8, "deliveries": 8}


async def test_a_failing_platform_is_retried_then_dead_lettered_with_an_error_log(
    shop: Shop, double: DoubleServer, relay: Relay, capsys: pytest.CaptureFixture[str]
) -> None:
    await double.start()
    await double.fail("error", status=503)
    noodles = await shop.add()
    await paid_sale(shop, {"product_id": noodles, "quantity": 1})
    await run_outbox()
    await forward_all(relay)
    row = await _T.select(_T.state, _T.attempts, _T.last_error).first()
    assert row is not None
    assert (row["state"], row["attempts"]) == ("dead", 4)
    assert row["last_error"].startswith("HTTP 503")
    assert "platform: transaction dead-lettered" in capsys.readouterr().out
    assert (await double.counts())["transactions"] == 0


async def test_a_platform_that_times_out_is_retried_until_it_answers(
    shop: Shop, double: DoubleServer, relay: Relay
) -> None:
    await double.start()
    await double.fail("timeout", delay_s=2.5, remaining=1)
    noodles = await shop.add()
    await paid_sale(shop, {"product_id": noodles, "quantity": 1})
    await run_outbox()
    await forward_all(relay)
    row = await _T.select(_T.attempts, _T.last_error).first()
    assert row is not None
    assert row["attempts"] == 2
    assert await double.counts() == {"transactions": 1, "deliveries": 1}


async def test_a_platform_dripping_its_answer_is_given_up_on_at_the_timeout(
    shop: Shop, settings: Settings
) -> None:
    noodles = await shop.add()
    await paid_sale(shop, {"product_id": noodles, "quantity": 1})
    await run_outbox()
    async with dripping_server() as url:
        dripping = settings.model_copy(update={"platform_url": url})
        async with platform_client(dripping) as client:
            assert await Relay(dripping, client).round() == 1
    row = await _T.select(_T.state, _T.last_error).first()
    assert row is not None
    assert (row["state"], row["last_error"]) == ("pending", "no whole answer within 2 s")


async def test_an_answer_lost_after_the_platform_stored_it_is_resent_and_deduplicated(
    shop: Shop, double: DoubleServer, relay: Relay
) -> None:
    await double.start()
    await double.fail("slow", delay_s=2.5, remaining=1)
    noodles = await shop.add()
    sale = await paid_sale(shop, {"product_id": noodles, "quantity": 1})
    await run_outbox()
    await forward_all(relay)
    assert await double.counts() == {"transactions": 1, "deliveries": 2}
    assert await double.deliveries(f"{MERCHANT}-S{sale.id}") == 2


async def test_a_reversal_waits_for_its_sale_and_follows_it_once_the_platform_has_it(
    shop: Shop, double: DoubleServer, relay: Relay
) -> None:
    # A real platform refuses a reversal of a sale it does not know, and a refusal is dead.
    noodles = await shop.add(price_fen=1000)
    sale = await paid_sale(shop, {"product_id": noodles, "quantity": 3})
    await run_outbox()
    assert await relay.round() == 1  # the platform is down: the sale waits out its back-off
    later = datetime.now(UTC) + timedelta(minutes=10)
    await _T.update({_T.next_attempt_at: later}).where(_T.kind == "sale")
    await orders.record_refund(sale.id, amount_fen=1000, restock=None)
    await run_outbox()
    await double.start()
    assert await relay.round() == 0
    await _T.update({_T.next_attempt_at: datetime.now(UTC)}).where(_T.kind == "sale")
    await forward_all(relay)
    assert set((await states()).values()) == {"sent"}
    assert await double.counts() == {"transactions": 2, "deliveries": 2}


async def test_a_product_revoked_before_the_sale_is_not_forwarded_one_revoked_after_is(
    shop: Shop, double: DoubleServer, relay: Relay
) -> None:
    revoked_before = await shop.add(price_fen=500)
    revoked_after = await shop.add(price_fen=800)
    await _revoke(revoked_before)
    await paid_sale(shop, {"product_id": revoked_before, "quantity": 1})
    sale = await paid_sale(
        shop,
        {"product_id": revoked_before, "quantity": 2},
        {"product_id": revoked_after, "quantity": 1},
    )
    await _revoke(revoked_after)
    await run_outbox()
    await double.start()
    await forward_all(relay)
    assert list(await states()) == [f"{MERCHANT}-S{sale.id}"]
    body = json.loads((await _T.select(_T.body).first() or {})["body"])
    assert [line["amount_fen"] for line in body["lines"]] == [800]
    assert body["order_total_fen"] == 1800
    assert await double.counts() == {"transactions": 1, "deliveries": 1}


async def _revoke(product_id: int) -> None:
    await Product.update({Product.status: "revoked"}).where(Product.id == product_id)


async def test_a_certified_sale_and_its_reversal_carry_the_buyer_region_a_manager_set(
    shop: Shop,
) -> None:
    await analytics.set_store_region(shop.store_id, "99")  # PUT /api/analytics/stores/{id}/region
    noodles = await shop.add(price_fen=1000)
    sale = await paid_sale(shop, {"product_id": noodles, "quantity": 3})
    await orders.record_refund(sale.id, amount_fen=1000, restock=None)
    await run_outbox()

    rows = await _T.select(_T.body).where(_T.order_id == sale.id).order_by(_T.id)
    docs = [TransactionDoc.model_validate_json(row["body"]) for row in rows]
    assert [(doc.kind, doc.buyer_region) for doc in docs] == [("sale", "99"), ("reversal", "99")]


async def test_a_sale_counts_for_the_day_it_was_paid_on_though_the_store_changed_zone_since(
    shop: Shop,
) -> None:
    noodles = await shop.add(price_fen=1000)
    sale = await paid_sale(shop, {"product_id": noodles, "quantity": 1}, paid_at=LATE_IN_SHANGHAI)
    await move_store(shop, "Asia/Tokyo")  # before the outbox runs the sale's handler
    await run_outbox()

    row = await _T.select(_T.business_day, _T.body).where(_T.order_id == sale.id).first()
    assert row is not None
    assert row["business_day"] == date(2026, 12, 3)
    assert TransactionDoc.model_validate_json(row["body"]).business_day == date(2026, 12, 3)


async def test_a_sale_event_written_before_business_days_were_frozen_takes_the_stores_zone(
    shop: Shop,
) -> None:
    noodles = await shop.add(price_fen=1000)
    sale = await paid_sale(shop, {"product_id": noodles, "quantity": 1}, paid_at=LATE_IN_SHANGHAI)
    event = OutboxEvent.kind == orders.ORDER_PAID
    row = await OutboxEvent.select(OutboxEvent.payload).where(event).first()
    assert row is not None
    payload = json.loads(row["payload"])
    del payload["business_day"]  # as the events already in the outbox at the upgrade
    await OutboxEvent.update({OutboxEvent.payload: json.dumps(payload)}).where(event)
    await run_outbox()

    doc = await _T.select(_T.business_day).where(_T.order_id == sale.id).first()
    assert doc is not None
    assert doc["business_day"] == date(2026, 12, 3)


async def _refunded_late_in_shanghai(shop: Shop) -> int:
    """A certified sale recorded, then half of it refunded at 23:30 on 3 December in Shanghai."""
    noodles = await shop.add(price_fen=1000)
    sale = await paid_sale(
        shop, {"product_id": noodles, "quantity": 2}, paid_at=LATE_IN_SHANGHAI - timedelta(hours=1)
    )
    await run_outbox()
    with clock_at(orders, LATE_IN_SHANGHAI):
        await orders.record_refund(sale.id, amount_fen=1000, restock=None)
    return sale.id


async def test_a_refund_counts_for_the_day_it_was_made_on_though_the_store_changed_zone_since(
    shop: Shop,
) -> None:
    order_id = await _refunded_late_in_shanghai(shop)
    await move_store(shop, "Asia/Tokyo")  # before the outbox runs the refund's handler
    await run_outbox()

    reversal = (_T.kind == "reversal") & (_T.order_id == order_id)
    row = await _T.select(_T.business_day, _T.body).where(reversal).first()
    assert row is not None
    assert row["business_day"] == date(2026, 12, 3)
    assert TransactionDoc.model_validate_json(row["body"]).business_day == date(2026, 12, 3)


async def test_a_refund_event_written_before_its_day_was_frozen_takes_the_stores_zone_now(
    shop: Shop,
) -> None:
    await _refunded_late_in_shanghai(shop)
    event = OutboxEvent.kind == orders.ORDER_REFUNDED
    row = await OutboxEvent.select(OutboxEvent.payload).where(event).first()
    assert row is not None
    payload = json.loads(row["payload"])
    del payload["business_day"]  # as the events already in the outbox at the upgrade
    await OutboxEvent.update({OutboxEvent.payload: json.dumps(payload)}).where(event)
    await move_store(shop, "Asia/Tokyo")
    await run_outbox()

    doc = await _T.select(_T.business_day).where(_T.kind == "reversal").first()
    assert doc == {"business_day": date(2026, 12, 4)}


async def test_certified_sales_in_the_figures_are_the_sale_less_its_reversals(shop: Shop) -> None:
    lines = [{"product_id": await shop.add(price_fen=1000), "quantity": 1} for _ in range(3)]
    sale = await paid_sale(shop, *lines)
    for amount_fen in (1000, 700):  # neither divides by 3: their one-fen remainders fall on lines
        await orders.record_refund(sale.id, amount_fen=amount_fen, restock=None)
    await run_outbox()
    await rollups.refresh_order(sale.id)

    rows = await _T.select(_T.kind, _T.amount_fen, _T.business_day).where(_T.order_id == sale.id)
    day = next(row["business_day"] for row in rows if row["kind"] == "sale")
    figures = await analytics.sales(Scope((shop.store_id,), day, day), "day")

    at_platform = sum(row["amount_fen"] * (-1 if row["kind"] == "reversal" else 1) for row in rows)
    # Every line is certified: each reverses exactly the refunds' fen recorded on it.
    assert figures.certified_fen == at_platform == figures.net_fen == 3000 - 1700


async def test_a_replayed_sale_or_refund_event_writes_one_transaction(shop: Shop) -> None:
    noodles = await shop.add(price_fen=1000)
    sale = await paid_sale(shop, {"product_id": noodles, "quantity": 3})
    await orders.record_refund(sale.id, amount_fen=1000, restock={noodles: 1})
    await run_outbox()
    await OutboxEvent.update({OutboxEvent.done_at: None}, force=True)
    await run_outbox()
    rows = await _T.select(_T.transaction_id, _T.kind, _T.amount_fen).order_by(_T.id)
    assert [(row["kind"], row["amount_fen"]) for row in rows] == [
        ("sale", 3000),
        ("reversal", 1000),
    ]
    assert rows[1]["transaction_id"].startswith(f"{MERCHANT}-R{sale.id}-")


async def test_a_sale_replayed_after_its_store_changed_merchant_is_not_recorded_twice(
    shop: Shop,
) -> None:
    noodles = await shop.add(price_fen=1000)
    sale = await paid_sale(shop, {"product_id": noodles, "quantity": 3})
    await run_outbox()
    await Store.update({Store.merchant_id: "XM-TEST-0002"}).where(Store.id == shop.store_id)
    await OutboxEvent.update({OutboxEvent.done_at: None}, force=True)  # e.g. `pos outbox retry`
    await run_outbox()

    rows = await _T.select(_T.transaction_id).where(_T.order_id == sale.id)
    assert [row["transaction_id"] for row in rows] == [f"{MERCHANT}-S{sale.id}"]


async def test_the_one_sale_migration_sets_aside_the_second_sales_written_before_it(
    db: str,
) -> None:
    await Statement("DROP INDEX certified_transaction_one_sale").rows()
    await Migration.delete().where(Migration.name == _ONE_SALE_MIGRATION)
    first, second = _sale("OLD-M-S7", state="sent"), _sale("NEW-M-S7", state="pending")
    await _T.insert(first, second)
    try:
        await migrate()
        rows = await _T.select(_T.kind, _T.state).order_by(_T.id)
    finally:  # the PostgreSQL database is shared by the tests after this one: leave it migrated
        await _T.delete(force=True)
        if not await Migration.exists().where(Migration.name == _ONE_SALE_MIGRATION):
            await migrate()

    assert [(row["kind"], row["state"]) for row in rows] == [
        ("sale", "sent"),
        ("sale_replayed", "dead"),  # never sent: staff see it and why
    ]


_ONE_SALE_MIGRATION = "2026-12-04T14:30:00:000000"


def _sale(transaction_id: str, *, state: str) -> CertifiedTransaction:
    return _T(
        transaction_id=transaction_id,
        kind="sale",
        order_id=7,
        store_id=1,
        merchant_id=transaction_id.partition("-S")[0],
        business_day=datetime.now(UTC).date(),
        amount_fen=2500,
        body="{}",
        state=state,
        next_attempt_at=None if state == "sent" else datetime.now(UTC),
    )


async def test_retrying_every_dead_letter_does_not_send_a_set_aside_second_sale(
    shop: Shop, double: DoubleServer, relay: Relay
) -> None:
    await double.start()
    noodles = await shop.add(price_fen=1000)
    sale = await paid_sale(shop, {"product_id": noodles, "quantity": 3})
    await run_outbox()
    await forward_all(relay)
    second = await set_aside_second_sale(sale.id)

    retried = await platform.retry_dead()  # POST /api/platform/dead-letters/retry
    await forward_all(relay)

    assert retried.requeued == 0
    assert (await states())[second] == "dead"
    # One paid order, one sale at the platform: not a second one under the other merchant.
    assert await double.counts() == {"transactions": 1, "deliveries": 1}


async def test_a_set_aside_second_sale_is_never_requeued_nor_claimed(
    shop: Shop, double: DoubleServer, relay: Relay
) -> None:
    await double.start()
    noodles = await shop.add(price_fen=1000)
    sale = await paid_sale(shop, {"product_id": noodles, "quantity": 1})
    await run_outbox()
    await forward_all(relay)
    second = await set_aside_second_sale(sale.id)

    assert await platform.requeue([second]) == 0  # as `pos platform reconcile --resend` would
    due = {_T.state: "pending", _T.next_attempt_at: datetime.now(UTC), _T.dead_at: None}
    await _T.update(due).where(_T.transaction_id == second)  # by hand, past the service
    assert await relay.round() == 0
    assert await double.counts() == {"transactions": 1, "deliveries": 1}


async def test_a_request_that_cannot_be_made_fails_its_rows_rather_than_holding_them(
    shop: Shop, double: DoubleServer, relay: Relay
) -> None:
    await double.start()
    # Written past the layout's check: no header can carry a full-width letter.
    await Store.update({Store.merchant_id: "ＸＭ-0001"}).where(Store.id == shop.store_id)
    noodles = await shop.add(price_fen=1000)
    await paid_sale(shop, {"product_id": noodles, "quantity": 1})
    await run_outbox()

    await forward_all(relay)

    row = await _T.select(_T.state, _T.last_error, _T.claimed_until).first()
    assert row is not None
    assert (row["state"], row["claimed_until"]) == ("dead", None)
    assert "UnicodeEncodeError" in row["last_error"]


async def test_a_refund_handled_the_next_day_is_reversed_on_its_own_day(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    noodles = await shop.add(price_fen=1000)
    sale = await paid_sale(shop, {"product_id": noodles, "quantity": 3})
    await run_outbox()
    before = datetime.now(UTC)
    await orders.record_refund(sale.id, amount_fen=1000, restock=None)

    class NextDay(datetime):
        """The worker's clock: it was down until the next day."""

        @classmethod
        def now(cls, tz: object = None) -> datetime:  # type: ignore[override]
            return datetime.now(UTC) + timedelta(days=1)

    monkeypatch.setattr(platform, "datetime", NextDay)
    await run_outbox()
    rows = await _T.select(_T.kind, _T.business_day, _T.body).order_by(_T.id)
    assert [row["kind"] for row in rows] == ["sale", "reversal"]
    assert rows[1]["business_day"] == rows[0]["business_day"]
    reversal = TransactionDoc.model_validate_json(rows[1]["body"])
    assert before <= reversal.occurred_at <= datetime.now(UTC)


async def test_a_document_the_platform_refuses_as_malformed_dies_at_once_and_spares_its_batch(
    double: DoubleServer, relay: Relay, db: str
) -> None:
    await double.start()
    await pending_rows(3)
    bad = f"{MERCHANT}-S2"
    row = await _T.select(_T.body).where(_T.transaction_id == bad).first()
    assert row is not None
    broken = json.loads(row["body"])
    broken["lines"][0]["amount_fen"] = -1  # a body no platform takes, however often it is sent
    await _T.update({_T.body: json.dumps(broken)}).where(_T.transaction_id == bad)

    await forward_all(relay)

    assert await states() == {f"{MERCHANT}-S1": "sent", bad: "dead", f"{MERCHANT}-S3": "sent"}
    row = await _T.select(_T.attempts, _T.last_error).where(_T.transaction_id == bad).first()
    assert row is not None
    assert row["attempts"] == 1
    assert row["last_error"].startswith("refused: HTTP 422")
    assert [letter.transaction_id for letter in await platform.dead_letters()] == [bad]
    assert await double.counts() == {"transactions": 2, "deliveries": 2}
