"""The analytics math without a database: refunds, store days, buyer histories, cohorts."""

from __future__ import annotations

from datetime import UTC, date, datetime

from pos.analytics.measures import (
    LocalDays,
    OrderFacts,
    SoldLine,
    Visit,
    buyer_history,
    cohort_offsets,
    comeback,
    days_of,
    purchase_row,
    rate,
)


def test_a_days_week_starts_on_monday_and_its_month_on_the_first() -> None:
    assert days_of(date(2026, 1, 31)) == LocalDays(
        date(2026, 1, 31), date(2026, 1, 26), date(2026, 1, 1)
    )
    assert days_of(date(2026, 2, 1)).week == date(2026, 1, 26)


def test_a_purchase_is_counted_on_the_business_day_frozen_at_sale() -> None:
    late = datetime(2026, 1, 31, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai, 00:30 in Tokyo
    order = OrderFacts(7, 1, "p", late, 1000, 0, business_day=date(2026, 1, 31))
    row = purchase_row(order, [SoldLine(10, "990001", True, 1000, 0)])
    assert (row["day"], row["week"], row["month"]) == (
        date(2026, 1, 31),
        date(2026, 1, 26),
        date(2026, 1, 1),
    )


def test_rates_are_none_without_a_whole() -> None:
    assert (rate(2, 3), rate(0, 0)) == (0.6667, None)


def test_a_purchase_counts_the_certified_lines_less_the_refunds_recorded_on_them() -> None:
    paid_at = datetime(2026, 2, 20, 4, tzinfo=UTC)
    order = OrderFacts(7, 1, "p", paid_at, 3000, 1600, business_day=paid_at.date())
    lines = [SoldLine(10, "990001", True, 1000, 100), SoldLine(11, "980001", False, 2000, 1500)]
    row = purchase_row(order, lines)
    assert (row["net_fen"], row["certified_fen"]) == (1400, 900)
    assert (row["products"], row["counties"]) == ("10,11", "980001,990001")


def test_a_refund_of_an_uncertified_line_leaves_the_certified_fen_whole() -> None:
    paid_at = datetime(2026, 2, 20, 4, tzinfo=UTC)
    order = OrderFacts(7, 1, "p", paid_at, 3000, 500, business_day=paid_at.date())
    lines = [SoldLine(10, "990001", True, 1000, 0), SoldLine(11, "980001", False, 2000, 500)]
    assert purchase_row(order, lines)["certified_fen"] == 1000


def visit(order_id: int, day: int, products: tuple[int, ...], store: int = 1) -> Visit:
    moment = datetime(2026, 3, day, 4, tzinfo=UTC)
    return Visit(order_id, store, moment, days_of(moment.date()), 100, products, ())


def test_a_buyer_history_ranks_by_time_not_by_order_id() -> None:
    history = buyer_history([visit(9, 20, (1,)), visit(3, 2, (1, 2), store=5), visit(4, 12, (2,))])
    assert history.ranks == {3: 1, 4: 2, 9: 3}
    assert (history.first.store_id, history.second_days, history.purchases) == (5, 10, 3)
    assert {p: n for p, (_, n) in history.products.items()} == {1: 2, 2: 2}
    assert history.products[2][0].days.day == date(2026, 3, 2)


def test_cohort_offsets_by_month_and_by_week() -> None:
    rows = [(date(2025, 12, 1), date(2026, 2, 1), 3), (date(2025, 12, 1), date(2025, 12, 1), 9)]
    assert cohort_offsets(rows, "month") == {date(2025, 12, 1): {2: 3, 0: 9}}
    weeks = [(date(2026, 2, 9), date(2026, 2, 23), 1)]
    assert cohort_offsets(weeks, "week") == {date(2026, 2, 9): {2: 1}}


def test_time_to_second_purchase_median_mean_and_buckets() -> None:
    figures = comeback([(None, 5), (3, 1), (10, 2), (200, 1)])
    assert (figures.new_buyers, figures.came_back) == (9, 4)
    assert (figures.median_days, figures.mean_days) == (10.0, 55.75)
    assert dict(figures.buckets) == {"0-7": 1, "8-30": 2, "31-90": 0, "91-180": 0, "181+": 1}
    assert comeback([(None, 2)]).median_days is None
