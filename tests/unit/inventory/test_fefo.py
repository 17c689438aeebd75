from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pos.inventory.fefo import (
    Lot,
    Markdown,
    Rule,
    Take,
    markdown_percent,
    marked_down,
    plan_return,
    plan_sale,
    plan_trim,
)

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def _in(hours: float) -> datetime:
    return NOW + timedelta(hours=hours)


def test_a_sale_takes_the_batch_expiring_first() -> None:
    lots = [Lot(1, 5, _in(72)), Lot(2, 3, _in(24)), Lot(3, 10, None)]
    assert plan_sale(lots, 6, on_hand=18, now=NOW) == [Take(2, 3), Take(1, 3)]


def test_batches_that_keep_come_after_those_that_expire() -> None:
    lots = [Lot(3, 10, None), Lot(1, 2, _in(5))]
    assert plan_sale(lots, 4, on_hand=12, now=NOW) == [Take(1, 2), Take(3, 2)]


def test_stock_without_a_batch_comes_after_fresh_batches_and_before_expired_ones() -> None:
    lots = [Lot(1, 2, _in(-1)), Lot(2, 1, _in(10))]
    assert plan_sale(lots, 3, on_hand=4, now=NOW) == [Take(2, 1), Take(None, 1), Take(1, 1)]


def test_trimming_takes_the_earliest_expiry_first() -> None:
    lots = [Lot(1, 4, _in(48)), Lot(2, 4, _in(-2)), Lot(3, 4, None)]
    assert plan_trim(lots, on_hand=7) == [Take(2, 4), Take(1, 1)]
    assert plan_trim(lots, on_hand=20) == []


def test_returned_units_go_back_to_the_batch_expiring_first_then_to_stock_without_one() -> None:
    sold_from = [Lot(1, 2, _in(48)), Lot(2, 1, _in(2)), Lot(3, 0, _in(1))]  # 3: all back already
    assert plan_return(sold_from, 2) == [Take(2, 1), Take(1, 1)]
    assert plan_return(sold_from, 5) == [Take(2, 1), Take(1, 2), Take(None, 2)]
    assert plan_return([], 1) == [Take(None, 1)]


def test_a_markdown_applies_only_within_its_window() -> None:
    rules = [Rule(None, 24, 30), Rule(7, 48, 10)]
    assert markdown_percent(5, Lot(1, 1, _in(23)), rules, NOW) == 30
    assert markdown_percent(5, Lot(1, 1, _in(25)), rules, NOW) == 0
    assert markdown_percent(7, Lot(1, 1, _in(47)), rules, NOW) == 10
    assert markdown_percent(7, Lot(1, 1, _in(2)), rules, NOW) == 30


def test_no_markdown_without_a_dated_fresh_batch() -> None:
    rules = [Rule(None, 24, 30)]
    assert markdown_percent(5, None, rules, NOW) == 0
    assert markdown_percent(5, Lot(1, 1, None), rules, NOW) == 0
    assert markdown_percent(5, Lot(1, 1, _in(-1)), rules, NOW) == 0


def test_each_lot_is_marked_down_by_its_own_window_until_one_is_not() -> None:
    rules = [Rule(None, 24, 50), Rule(None, 72, 20)]
    lots = [Lot(1, 2, _in(20)), Lot(2, 5, _in(70)), Lot(3, 4, _in(100)), Lot(4, 1, None)]
    assert marked_down(5, lots, rules, NOW) == (Markdown(50, 2), Markdown(20, 5))
    assert marked_down(5, lots[2:], rules, NOW) == ()


@pytest.mark.parametrize(("percent", "units"), [(-1, 0), (101, 0), (30, -1)])
def test_an_impossible_markdown_cannot_be_built(percent: int, units: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        Markdown(percent, units)
