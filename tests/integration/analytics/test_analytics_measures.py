"""Each measure, exactly, on the hand-made sample (see its docstring in conftest.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import anyio
import pytest

from pos.analytics import service
from pos.analytics.rebuild import rebuild
from pos.analytics.service import Scope
from pos.analytics.tables import Buyer, StoreRegion
from pos.catalog.tables import Province
from pos.stores.tables import Store
from tests.helpers.shop import open_shop
from tests.integration.analytics.conftest import (
    Sample,
    also_sold_at,
    product_in,
    refund,
    run_events,
    sell,
    shanghai,
)

pytestmark = pytest.mark.anyio

JAN, FEB = (date(2026, 1, 1), date(2026, 1, 31)), (date(2026, 2, 1), date(2026, 2, 28))
Q1 = (date(2026, 1, 1), date(2026, 3, 31))


def scope(sample: Sample, period: tuple[date, date], *stores: int) -> Scope:
    ids = stores or (sample.a.store_id, sample.b.store_id)
    return Scope(tuple(sorted(ids)), *period)


async def test_buyers_in_february_split_first_time_returning_and_repeat(sample: Sample) -> None:
    figures = await service.buyers(scope(sample, FEB))
    assert (figures.orders, figures.anonymous_orders) == (4, 1)
    assert (figures.buyers, figures.first_time_buyers, figures.returning_buyers) == (2, 1, 1)
    assert (figures.repeat_buyers, figures.repeat_rate) == (2, 1.0)
    assert (figures.net_fen, figures.repeat_net_fen, figures.anonymous_net_fen) == (
        7500,
        4500,
        2000,
    )
    assert figures.repeat_revenue_share == 0.6


async def test_a_sale_at_23_30_on_the_last_day_belongs_to_that_month(sample: Sample) -> None:
    january = await service.buyers(scope(sample, JAN))
    assert (january.orders, january.buyers, january.first_time_buyers) == (2, 2, 2)
    assert (january.repeat_buyers, january.net_fen) == (0, 3000)
    days = await service.sales(scope(sample, (date(2026, 1, 31), date(2026, 2, 1))), "day")
    assert [(row.key, row.net_fen) for row in days.rows] == [
        ("2026-01-31", 2000),
        ("2026-02-01", 3000),
    ]


async def test_sales_by_county_and_province_net_of_refunds(sample: Sample) -> None:
    by_county = await service.sales(scope(sample, FEB), "county")
    rows = {row.key: (row.net_fen, row.certified_fen, row.quantity) for row in by_county.rows}
    assert rows == {"980001": (5000, 0, 3), "990001": (2500, 2500, 3)}
    assert by_county.rows[0].name == "县980001"
    by_province = await service.sales(scope(sample, FEB), "province")
    assert [(row.key, row.net_fen) for row in by_province.rows] == [("98", 5000), ("99", 2500)]
    assert (by_province.net_fen, by_province.certified_fen) == (7500, 2500)


async def test_a_refund_naming_no_goods_nets_every_line_in_proportion_to_the_money_kept(
    db: str,
) -> None:
    a = await open_shop()
    noodles, plums, bamboo = [await product_in(a, "990001", 1000) for _ in range(3)]
    order = await sell(a, {noodles: 1, plums: 1, bamboo: 1}, payer="p1", at=shanghai(3, 2))
    await refund(order, 1000)  # 10 yuan off, no goods named: a goodwill refund
    await run_events()
    day = date(2026, 3, 2)
    scope = Scope((a.store_id,), day, day)

    by_day = await service.sales(scope, "day")  # the dashboard's "net sales" and sales.csv
    by_product = await service.sales(scope, "product")
    buyers = await service.buyers(scope)
    await rebuild()

    assert buyers.net_fen == by_day.net_fen == 2000  # not 2001: 1/3 fen kept by each line
    # The fen the floors leave over is refunded from the first line (equal shares: lowest line).
    assert sorted((int(row.key), row.net_fen) for row in by_product.rows) == [
        (noodles, 666),
        (plums, 667),
        (bamboo, 667),
    ]
    # Certified fen are what the platform is told: each line less the refund's share of it.
    assert by_day.certified_fen == 2000
    assert await service.sales(scope, "product") == by_product


async def test_sales_by_product_and_supplier_for_one_store(sample: Sample) -> None:
    by_product = await service.sales(scope(sample, FEB, sample.b.store_id), "product")
    assert [(row.key, row.net_fen) for row in by_product.rows] == [(str(sample.x), 1000)]
    by_supplier = await service.sales(scope(sample, Q1, sample.a.store_id), "supplier")
    assert [(row.key, row.net_fen) for row in by_supplier.rows] == [
        (str(sample.a.supplier_id), 9500)
    ]


async def test_monthly_cohorts_count_the_stores_first_purchases(sample: Sample) -> None:
    both = await service.cohorts(scope(sample, Q1), "month")
    assert [(c.cohort, c.size, c.active) for c in both.cohorts] == [
        (date(2026, 1, 1), 2, [2, 1, 1]),
        (date(2026, 2, 1), 1, [1]),
    ]
    assert both.cohorts[0].retention == [1.0, 0.5, 0.5]
    only_a = await service.cohorts(scope(sample, Q1, sample.a.store_id), "month")
    assert [(c.cohort, c.active) for c in only_a.cohorts] == [(date(2026, 1, 1), [2, 1])]


async def test_weekly_cohorts_start_on_mondays(sample: Sample) -> None:
    weekly = await service.cohorts(scope(sample, FEB), "week")
    # p3's first purchase, Tuesday Feb 10, and again on Friday Feb 20 (the week after).
    assert [(c.cohort, c.active) for c in weekly.cohorts] == [(date(2026, 2, 9), [1, 1])]


async def test_time_to_second_purchase(sample: Sample) -> None:
    figures = await service.comeback_time(scope(sample, Q1))
    assert (figures.new_buyers, figures.came_back, figures.comeback_rate) == (3, 3, 1.0)
    assert (figures.median_days, figures.mean_days) == (27.0, 22.67)
    assert {b.days: b.buyers for b in figures.buckets} == {
        "0-7": 0,
        "8-30": 2,
        "31-90": 1,
        "91-180": 0,
        "181+": 0,
    }
    february = await service.comeback_time(scope(sample, FEB))
    assert (february.new_buyers, february.median_days) == (1, 10.0)


async def test_a_second_purchase_in_a_time_zone_behind_the_first_is_that_day(db: str) -> None:
    # A chain with a store in Shanghai (UTC+8) and one in Urumqi (UTC+6); histories are chain-wide.
    a, b = await open_shop(), await open_shop()
    await Store.update({Store.time_zone: "Asia/Urumqi"}).where(Store.id == b.store_id)
    x = await product_in(a, "990001", 1000)
    await also_sold_at(b, x)
    # 16:30 UTC is 00:30 on 2 March in Shanghai; 17:00 UTC, half an hour later, is still
    # 23:00 on 1 March in Urumqi: the second purchase's local day is before the first's.
    await sell(a, {x: 1}, payer="p1", at=datetime(2026, 3, 1, 16, 30, tzinfo=UTC))
    await sell(b, {x: 1}, payer="p1", at=datetime(2026, 3, 1, 17, 0, tzinfo=UTC))
    await run_events()
    await rebuild()
    buyer = await Buyer.select(Buyer.second_days).first()
    assert buyer is not None
    march = Scope((a.store_id, b.store_id), date(2026, 3, 1), date(2026, 3, 31))
    figures = await service.comeback_time(march)
    assert figures.came_back == 1
    assert buyer["second_days"] == 0  # not -1: the same day, half an hour later
    assert sum(bucket.buyers for bucket in figures.buckets) == figures.came_back


async def test_repeat_rate_per_product_and_origin_county(sample: Sample) -> None:
    products = await service.repeat(scope(sample, Q1), "product")
    assert {r.key: (r.buyers, r.repeat_buyers) for r in products.rows} == {
        str(sample.x): (3, 2),
        str(sample.y): (3, 0),
    }
    counties = await service.repeat(scope(sample, Q1), "county")
    assert {r.key: (r.buyers, r.repeat_rate) for r in counties.rows} == {
        "990001": (3, 0.6667),
        "980001": (3, 0.0),
    }


async def test_buyer_region_against_origin_with_an_unknown_region(sample: Sample) -> None:
    await Province.objects().get_or_create(
        Province.code == "31", defaults={Province.name_zh: "上海市"}
    )
    await service.set_store_region(sample.a.store_id, "31")
    figures = await service.regions(scope(sample, FEB))
    rows = [(r.buyer_region, r.origin_province, r.net_fen) for r in figures.rows]
    assert rows == [("31", "98", 5000), ("31", "99", 1500), (None, "99", 1000)]
    assert figures.rows[0].buyer_region_name == "上海市"
    assert figures.unknown_region_net_fen == 1000


async def test_racing_settings_of_a_store_region_leave_one_region(sample: Sample) -> None:
    for code, name in (("31", "上海市"), ("32", "江苏省")):
        await Province.objects().get_or_create(
            Province.code == code, defaults={Province.name_zh: name}
        )
    for _ in range(5):
        async with anyio.create_task_group() as racers:
            for code in ("31", "32", "31", "32"):
                racers.start_soon(service.set_store_region, sample.a.store_id, code)
    rows = await StoreRegion.select().where(StoreRegion.store_id == sample.a.store_id)
    assert len(rows) == 1
