"""Ratings of certified lines travel to the platform double with the sales; hiding withdraws."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from pos.analytics import ratings
from pos.analytics.schemas import ModerationIn, RatingOut, RatingsIn
from pos.events.outbox import dispatch_due
from pos.events.tables import OutboxEvent
from pos.orders import service as orders
from pos.orders.schemas import OrderOut
from pos.platform.double.books import PlatformRating
from pos.platform.reconcile import reconcile
from pos.platform.relay import Relay
from pos.platform.tables import CertifiedTransaction
from pos.settings import Settings
from tests.helpers.shop import Shop
from tests.helpers.staff import make_user
from tests.integration.platform.conftest import (
    LATE_IN_SHANGHAI,
    MERCHANT,
    DoubleServer,
    clock_at,
    forward_all,
    move_store,
    paid_sale,
    run_outbox,
    states,
)

pytestmark = pytest.mark.anyio

_T = CertifiedTransaction


async def _noodles_and_water(shop: Shop) -> OrderOut:
    """A paid order: line 1 certified noodles, line 2 uncertified water; its sale recorded."""
    noodles = await shop.add(price_fen=1250)
    water = await shop.add(price_fen=200, certified=False)
    order = await paid_sale(
        shop, {"product_id": noodles, "quantity": 1}, {"product_id": water, "quantity": 1}
    )
    await run_outbox()
    return order


async def _rate(order: OrderOut, line_no: int, stars: int, comment: str) -> RatingOut:
    data = RatingsIn.model_validate(
        {"ratings": [{"line_no": line_no, "stars": stars, "comment": comment}]}
    )
    rated = await ratings.submit(order.id, order.access_token or "", data)
    return next(rating for rating in rated if rating.line_no == line_no)


async def _moderate(shop: Shop, rating: RatingOut, *, hidden: bool) -> None:
    manager = await make_user("manager", shop.store_id)
    await ratings.moderate(manager, rating.id, ModerationIn(hidden=hidden, reason="test"))


def _shown(order: OrderOut, rating: RatingOut, documents: int) -> PlatformRating:
    return PlatformRating(
        merchant_id=MERCHANT,
        rating_id=rating.id,
        transaction_id=f"{MERCHANT}-S{order.id}",
        shown=True,
        stars=rating.stars,
        comment=rating.comment,
        documents=documents,
        deliveries=documents,
    )


async def test_a_replayed_rating_event_writes_one_document_that_arrives_once(
    shop: Shop, double: DoubleServer, relay: Relay
) -> None:
    order = await _noodles_and_water(shop)
    rating = await _rate(order, 1, 5, "好吃")
    await run_outbox()
    await OutboxEvent.update({OutboxEvent.done_at: None}, force=True)
    await run_outbox()
    rows = await _T.select(_T.transaction_id, _T.kind, _T.amount_fen).where(_T.kind == "rating")
    assert rows == [
        {"transaction_id": f"{MERCHANT}-E{rating.id}", "kind": "rating", "amount_fen": 0}
    ]
    body = json.loads((await _T.select(_T.body).where(_T.kind == "rating").first() or {})["body"])
    assert body["original_transaction_id"] == f"{MERCHANT}-S{order.id}"
    assert (body["line_no"], body["revision"], body["stars"]) == (1, 0, 5)
    await double.start()
    await forward_all(relay)
    assert await double.ratings() == [_shown(order, rating, documents=1)]


async def test_ratings_wait_while_the_platform_is_down_and_arrive_once_when_it_is_back(
    shop: Shop, double: DoubleServer, relay: Relay
) -> None:
    order = await _noodles_and_water(shop)
    rating = await _rate(order, 1, 4, "")
    await run_outbox()
    assert await relay.round() == 1  # the sale; its rating waits until the platform has it
    assert set((await states()).values()) == {"pending"}
    await double.start()
    await forward_all(relay)
    assert set((await states()).values()) == {"sent"}
    assert await double.ratings() == [_shown(order, rating, documents=1)]
    assert await double.deliveries(f"{MERCHANT}-E{rating.id}") == 1


async def test_the_rating_of_an_uncertified_line_is_not_forwarded(
    shop: Shop, double: DoubleServer, relay: Relay
) -> None:
    order = await _noodles_and_water(shop)
    water = await _rate(order, 2, 2, "太贵")
    await _moderate(shop, water, hidden=True)
    await run_outbox()
    assert await _T.count().where(_T.kind != "sale") == 0
    rating_kinds = OutboxEvent.kind.is_in([ratings.RATING_SUBMITTED, ratings.RATING_MODERATED])
    done = await OutboxEvent.count().where(rating_kinds & OutboxEvent.done_at.is_not_null())
    assert done == 2
    await double.start()
    await forward_all(relay)
    assert await double.ratings() == []


async def test_hiding_a_forwarded_rating_withdraws_it_and_showing_it_publishes_it_again(
    shop: Shop, double: DoubleServer, relay: Relay
) -> None:
    await double.start()
    order = await _noodles_and_water(shop)
    rating = await _rate(order, 1, 1, "广告")
    await run_outbox()
    await forward_all(relay)
    await _moderate(shop, rating, hidden=True)
    await _moderate(shop, rating, hidden=True)
    await run_outbox()
    await forward_all(relay)
    [withdrawn] = await double.ratings()
    assert (withdrawn.shown, withdrawn.stars, withdrawn.comment) == (False, None, None)
    assert withdrawn.documents == 2
    await _moderate(shop, rating, hidden=False)
    await run_outbox()
    await forward_all(relay)
    assert await double.ratings() == [_shown(order, rating, documents=3)]
    kinds = [row["kind"] for row in await _T.select(_T.kind).order_by(_T.id)]
    assert kinds == ["sale", "rating", "rating_withdrawal", "rating"]


async def test_a_rating_waits_for_its_sale_to_be_recorded(shop: Shop) -> None:
    order = await _noodles_and_water(shop)
    await _T.delete().where(_T.order_id == order.id)
    await _rate(order, 1, 5, "")
    await dispatch_due()
    submitted = OutboxEvent.kind == ratings.RATING_SUBMITTED
    [event] = await OutboxEvent.select(OutboxEvent.done_at, OutboxEvent.last_error).where(submitted)
    assert event["done_at"] is None
    assert "its certified sale is not recorded yet" in event["last_error"]
    assert await _T.count() == 0
    await OutboxEvent.update({OutboxEvent.done_at: None}).where(
        OutboxEvent.kind == orders.ORDER_PAID
    )
    await run_outbox()
    assert [row["kind"] for row in await _T.select(_T.kind).order_by(_T.id)] == ["sale", "rating"]


async def test_ratings_change_no_reconciled_total(
    shop: Shop, double: DoubleServer, relay: Relay, settings: Settings
) -> None:
    await double.start()
    order = await _noodles_and_water(shop)
    rating = await _rate(order, 1, 3, "")
    await _moderate(shop, rating, hidden=True)
    await run_outbox()
    await forward_all(relay)
    assert await _T.count() == 3
    day = (await _T.select(_T.business_day).where(_T.kind == "sale").first() or {})["business_day"]
    report = await reconcile(day, settings)
    assert report.differences == []
    assert report.local_transactions == report.platform_transactions == 1


async def test_a_rating_counts_for_the_day_it_was_given_on_though_the_store_changed_zone_since(
    shop: Shop,
) -> None:
    noodles = await shop.add(price_fen=1250)
    order = await paid_sale(
        shop, {"product_id": noodles, "quantity": 1}, paid_at=LATE_IN_SHANGHAI - timedelta(hours=1)
    )
    await run_outbox()
    with clock_at(ratings, LATE_IN_SHANGHAI):
        rating = await _rate(order, 1, 5, "好吃")
    with clock_at(ratings, LATE_IN_SHANGHAI + timedelta(minutes=10)):
        await _moderate(shop, rating, hidden=True)
    await move_store(shop, "Asia/Tokyo")  # before the outbox runs their handlers
    await run_outbox()

    rows = await _T.select(_T.kind, _T.business_day, _T.body).where(_T.kind != "sale")
    assert {row["kind"]: row["business_day"] for row in rows} == {
        "rating": date(2026, 12, 3),
        "rating_withdrawal": date(2026, 12, 3),
    }
    assert {json.loads(row["body"])["business_day"] for row in rows} == {"2026-12-03"}
