from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from pos.platform.ratings import rating_document
from pos.platform.schemas import RatingDoc, RatingEvent, RatingWithdrawalDoc
from tests.unit.platform.sales import PAID, sold, sold_line

SALE = sold(sold_line(1, 2500), sold_line(2, 600))


def rating_event(**more: Any) -> RatingEvent:
    values = {
        "rating_id": 12,
        "order_id": 42,
        "store_id": 1,
        "line_no": 2,
        "certified": True,
        "certificate_no": "CERT2",
        "stars": 4,
        "comment": "好吃",
        "submitted_at": PAID.isoformat(),
        "order_number": "261129000042",
    }
    return RatingEvent.model_validate({**values, **more})


def test_a_submitted_rating_refers_to_the_sale_and_is_dated_on_its_business_day() -> None:
    doc = rating_document(rating_event(), SALE, date(2026, 11, 29))
    assert isinstance(doc, RatingDoc)
    assert (doc.transaction_id, doc.original_transaction_id) == ("XM-0001-E12", "XM-0001-S42")
    assert (doc.revision, doc.line_no, doc.stars, doc.comment) == (0, 2, 4, "好吃")
    assert (doc.occurred_at, doc.business_day) == (PAID, date(2026, 11, 29))


def test_hiding_withdraws_and_showing_again_publishes_under_the_moderations_id() -> None:
    later = PAID + timedelta(days=2)
    hidden = rating_event(moderation_id=30, hidden=True, moderated_at=later.isoformat())
    shown = rating_event(moderation_id=31, hidden=False, moderated_at=later.isoformat())
    withdrawal = rating_document(hidden, SALE, date(2026, 12, 1))
    again = rating_document(shown, SALE, date(2026, 12, 1))
    assert isinstance(withdrawal, RatingWithdrawalDoc)
    assert "stars" not in withdrawal.model_dump()
    assert (withdrawal.transaction_id, withdrawal.revision) == ("XM-0001-E12-M30", 30)
    assert (withdrawal.occurred_at, withdrawal.business_day) == (later, date(2026, 12, 1))
    assert isinstance(again, RatingDoc)
    assert (again.transaction_id, again.revision, again.stars) == ("XM-0001-E12-M31", 31, 4)
