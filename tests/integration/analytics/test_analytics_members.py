"""Opt-in membership: payer ids linked by a phone number count as one buyer; no number kept."""

from __future__ import annotations

from datetime import date

import pytest

from pos.analytics import members, service
from pos.analytics.schemas import MembershipIn
from pos.analytics.service import Scope
from pos.analytics.tables import Member
from pos.errors import Conflict, InvalidInput
from tests.integration.analytics.conftest import Sample

pytestmark = pytest.mark.anyio

SECRET = "analytics-test-secret-0123456789abcdef"
PHONE = "+86 138-0013-8000"


async def join(sample: Sample, name: str, phone: str = PHONE) -> int:
    order = sample.orders[name]
    joined = await members.join(
        order.id, order.access_token or "", MembershipIn(phone=phone), secret=SECRET
    )
    return joined.linked_payers


async def test_two_payment_accounts_of_one_member_are_one_buyer(sample: Sample) -> None:
    assert await join(sample, "o1") == 1
    assert await join(sample, "o2", "13800138000") == 2  # p2, the same number written otherwise
    stores = (sample.a.store_id, sample.b.store_id)
    january = await service.buyers(Scope(stores, date(2026, 1, 1), date(2026, 1, 31)))
    assert (january.buyers, january.first_time_buyers, january.repeat_buyers) == (1, 1, 1)
    comeback = await service.comeback_time(Scope(stores, date(2026, 1, 1), date(2026, 3, 31)))
    # The member (first Jan 5, again Jan 31) and p3: 26 and 10 days.
    assert (comeback.new_buyers, comeback.median_days) == (2, 18.0)


async def test_the_phone_number_is_kept_only_as_a_keyed_hash(sample: Sample) -> None:
    await join(sample, "o1")
    rows = await Member.select(Member.phone_hash)
    assert rows == [{"phone_hash": members.phone_hash(SECRET, "13800138000")}]
    assert "13800138000" not in rows[0]["phone_hash"]
    assert members.phone_hash("another-secret-0123456789abcdef01", PHONE) != rows[0]["phone_hash"]


async def test_an_account_belongs_to_one_member(sample: Sample) -> None:
    await join(sample, "o1")
    with pytest.raises(Conflict) as refused:
        await join(sample, "o3", "13900139000")  # p1 again, with another number
    assert refused.value.code == "payer_linked"
    with pytest.raises(Conflict) as anonymous:
        await join(sample, "o5")
    assert anonymous.value.code == "no_payer"


@pytest.mark.parametrize(
    "written", ["+86 138 0013 8000", "0086-13800138000", "86 138 0013 8000", "(+86) 138.0013.8000"]
)
async def test_a_mobile_number_written_any_usual_way_is_one_member(written: str) -> None:
    assert members.phone_hash(SECRET, written) == members.phone_hash(SECRET, "13800138000")


@pytest.mark.parametrize(
    "written", ["1234567", "23800138000", "1380013800", "+1 212 555 0100", "008612800138000", "x"]
)
async def test_what_is_not_a_mainland_mobile_number_is_refused(written: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        members.phone_hash(SECRET, written)
    assert refused.value.code == "invalid_phone"
