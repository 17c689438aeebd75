"""Ratings from the e-receipt: one per line, moderated by managers, forwarded by an event."""

from __future__ import annotations

import json

import pytest

from pos.analytics import ratings
from pos.analytics.schemas import ModerationIn, RatingsIn
from pos.analytics.tables import RatingModeration
from pos.errors import Conflict, Forbidden, InvalidInput
from pos.events.tables import OutboxEvent
from tests.helpers.staff import make_user
from tests.integration.analytics.conftest import Sample

pytestmark = pytest.mark.anyio


def rated(*lines: tuple[int, int, str]) -> RatingsIn:
    return RatingsIn.model_validate(
        {"ratings": [{"line_no": n, "stars": s, "comment": c} for n, s, c in lines]}
    )


async def test_a_buyer_rates_each_line_and_the_platform_gets_an_event(sample: Sample) -> None:
    order = sample.orders["o3"]
    out = await ratings.submit(
        order.id, order.access_token or "", rated((1, 5, "好吃"), (2, 3, ""))
    )
    assert [(r.line_no, r.stars, r.comment, r.hidden) for r in out] == [
        (1, 5, "好吃", False),
        (2, 3, "", False),
    ]
    events = await OutboxEvent.select(OutboxEvent.key, OutboxEvent.payload).where(
        OutboxEvent.kind == ratings.RATING_SUBMITTED
    )
    payload = json.loads(events[0]["payload"])
    assert {k: payload[k] for k in ("order_id", "line_no", "product_id", "stars", "comment")} == {
        "order_id": order.id,
        "line_no": 1,
        "product_id": order.lines[0].product_id,
        "stars": 5,
        "comment": "好吃",
    }
    assert payload["certificate_no"] == order.lines[0].certificate_no
    assert sorted(e["key"] for e in events) == sorted(str(r.id) for r in out)


async def test_a_line_is_rated_once(sample: Sample) -> None:
    order = sample.orders["o1"]
    token = order.access_token or ""
    first = await ratings.submit(order.id, token, rated((1, 4, "ok")))
    assert await ratings.submit(order.id, token, rated((1, 4, "ok"))) == first
    with pytest.raises(Conflict) as refused:
        await ratings.submit(order.id, token, rated((1, 2, "changed my mind")))
    assert refused.value.code == "already_rated"
    count = await OutboxEvent.count().where(OutboxEvent.kind == ratings.RATING_SUBMITTED)
    assert count == 1


async def test_only_lines_of_a_paid_order_with_its_token(sample: Sample) -> None:
    order = sample.orders["o1"]
    with pytest.raises(InvalidInput) as no_line:
        await ratings.submit(order.id, order.access_token or "", rated((9, 4, "")))
    assert no_line.value.code == "no_such_line"
    with pytest.raises(Forbidden):
        await ratings.submit(order.id, "not-the-token", rated((1, 4, "")))
    refunded = sample.orders["o7"]
    with pytest.raises(Conflict) as unpaid:
        await ratings.submit(refunded.id, refunded.access_token or "", rated((1, 4, "")))
    assert unpaid.value.code == "order_not_paid"


async def test_a_manager_hides_a_rating_saying_why(sample: Sample) -> None:
    order = sample.orders["o3"]
    out = await ratings.submit(
        order.id, order.access_token or "", rated((1, 1, "广告"), (2, 4, ""))
    )
    manager = await make_user("manager", sample.a.store_id)
    hidden = await ratings.moderate(manager, out[0].id, ModerationIn(hidden=True, reason="spam"))
    assert hidden.hidden
    log = await RatingModeration.select(RatingModeration.actor, RatingModeration.reason)
    assert log == [{"actor": manager.username, "reason": "spam"}]
    averages = await ratings.product_averages((sample.a.store_id,))
    by_product = {a.product_id: (a.ratings, a.average_stars, a.hidden) for a in averages}
    assert by_product == {sample.x: (0, None, 1), sample.y: (1, 4.0, 0)}
    public = await ratings.public_ratings(sample.x)
    assert (public.ratings, public.latest) == (0, [])
    listed = await ratings.list_ratings((sample.a.store_id,), product_id=None, hidden=True)
    assert [r.id for r in listed] == [out[0].id]


async def test_a_manager_of_another_store_may_not_moderate(sample: Sample) -> None:
    order = sample.orders["o1"]
    out = await ratings.submit(order.id, order.access_token or "", rated((1, 2, "")))
    other = await make_user("manager", sample.b.store_id)
    with pytest.raises(Forbidden):
        await ratings.moderate(other, out[0].id, ModerationIn(hidden=True, reason="no"))


async def test_each_change_of_visibility_writes_one_event_for_the_platform(sample: Sample) -> None:
    order = sample.orders["o3"]
    out = await ratings.submit(order.id, order.access_token or "", rated((1, 2, "差")))
    manager = await make_user("manager", sample.a.store_id)
    for hidden in (True, True, False):
        await ratings.moderate(manager, out[0].id, ModerationIn(hidden=hidden, reason="check"))
    events = (
        await OutboxEvent.select(OutboxEvent.key, OutboxEvent.payload)
        .where(OutboxEvent.kind == ratings.RATING_MODERATED)
        .order_by(OutboxEvent.id)
    )
    payloads = [json.loads(event["payload"]) for event in events]
    moderations = await RatingModeration.select(RatingModeration.id).order_by(RatingModeration.id)
    assert [event["key"] for event in events] == [
        str(moderations[0]["id"]),
        str(moderations[2]["id"]),
    ]
    assert [(p["rating_id"], p["moderation_id"], p["hidden"]) for p in payloads] == [
        (out[0].id, moderations[0]["id"], True),
        (out[0].id, moderations[2]["id"], False),
    ]
    first = payloads[0]
    assert (first["stars"], first["comment"], first["line_no"]) == (2, "差", 1)
    assert (first["certified"], first["certificate_no"]) == (True, order.lines[0].certificate_no)
