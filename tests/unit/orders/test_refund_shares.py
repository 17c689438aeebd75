"""Which lines a refund pays back: named goods first, the rest in proportion, exact to the fen."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pos.errors import InvalidInput
from pos.orders.refund_shares import LineShare, RefundLine, refund_shares

APPLES = RefundLine(1, product_id=10, units=4, total_fen=1000)  # 4 pieces
CERTIFIED_RICE = RefundLine(2, product_id=20, units=1500, total_fen=3000)  # 1.5 kg


def shares(lines: list[RefundLine], amount: int, returned: dict[int, int]) -> list[tuple[int, int]]:
    return [(s.fen, s.units) for s in refund_shares(lines, amount, returned)]


def test_a_refund_naming_one_product_takes_only_that_products_line() -> None:
    assert shares([APPLES, CERTIFIED_RICE], 250, {10: 1}) == [(250, 1), (0, 0)]


def test_an_amount_below_the_goods_value_is_spread_over_their_lines_by_value() -> None:
    more_apples = RefundLine(3, product_id=10, units=2, total_fen=1000)
    # 5 apples: the 4 of line 1 (1000 fen), then 1 of line 3 (500 fen); 600 fen refunded.
    assert shares([APPLES, CERTIFIED_RICE, more_apples], 600, {10: 5}) == [
        (400, 4),
        (0, 0),
        (200, 1),
    ]


def test_an_amount_above_the_goods_value_spreads_the_rest_over_what_is_left_of_all_lines() -> None:
    # One apple is worth 250 fen; the 150 more are split 750 : 3000 over the fen left.
    assert shares([APPLES, CERTIFIED_RICE], 400, {10: 1}) == [(280, 1), (120, 0)]


def test_a_goodwill_refund_naming_no_goods_is_spread_over_all_lines() -> None:
    assert shares([APPLES, CERTIFIED_RICE], 100, {}) == [(25, 0), (75, 0)]


def test_the_one_fen_remainders_go_to_the_largest_remainders_then_the_earlier_line() -> None:
    lines = [RefundLine(n, n, 1, 100) for n in (1, 2, 3)]
    assert shares(lines, 2, {}) == [(1, 0), (1, 0), (0, 0)]
    lopsided = [RefundLine(1, 1, 1, 100), RefundLine(2, 2, 1, 200)]
    assert shares(lopsided, 2, {}) == [(1, 0), (1, 0)]  # 0.67 and 1.33: the larger remainder


def test_a_value_is_capped_at_the_fen_a_goodwill_refund_left_on_the_line() -> None:
    discounted = dataclasses.replace(APPLES, refunded_fen=900)
    assert shares([discounted, CERTIFIED_RICE], 100, {10: 4}) == [(100, 4), (0, 0)]
    assert shares([discounted, CERTIFIED_RICE], 400, {10: 4}) == [(100, 4), (300, 0)]


def test_more_units_than_the_lines_have_not_had_back_are_refused() -> None:
    half_back = dataclasses.replace(APPLES, returned_units=3, refunded_fen=750)
    with pytest.raises(InvalidInput) as refused:
        refund_shares([half_back, CERTIFIED_RICE], 10, {10: 2})
    assert refused.value.code == "returned_more_than_sold"
    assert refused.value.extra == {"product_id": 10, "returnable": 1}


def test_a_product_the_order_did_not_sell_cannot_be_returned() -> None:
    with pytest.raises(InvalidInput) as refused:
        refund_shares([APPLES], 10, {99: 1})
    assert refused.value.extra == {"product_id": 99, "returnable": 0}


def test_an_amount_above_what_is_left_to_refund_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="more than the order has left"):
        refund_shares([dataclasses.replace(APPLES, refunded_fen=1)], 1000, {})


def _apply(lines: list[RefundLine], cut: list[LineShare]) -> list[RefundLine]:
    return [
        dataclasses.replace(
            line,
            refunded_fen=line.refunded_fen + s.fen,
            returned_units=line.returned_units + s.units,
        )
        for line, s in zip(lines, cut, strict=True)
    ]


@given(
    totals=st.lists(st.tuples(st.integers(1, 20), st.integers(1, 5000)), min_size=1, max_size=4),
    steps=st.lists(st.integers(1, 7), min_size=1, max_size=6),
)
def test_successive_returns_of_every_unit_add_up_to_each_lines_total_exactly(
    totals: list[tuple[int, int]], steps: list[int]
) -> None:
    # Each refund pays exactly the value of the goods it names (0 fen when it is below a fen).
    lines = [RefundLine(n, n, units, fen) for n, (units, fen) in enumerate(totals, 1)]
    for step in range(sum(units for units, _ in totals)):
        named = {
            line.product_id: min(line.units_left, steps[step % len(steps)])
            for line in lines
            if line.units_left
        }
        if not named:
            break
        value = sum(
            line.total_fen * (line.returned_units + named.get(line.product_id, 0)) // line.units
            - line.total_fen * line.returned_units // line.units
            for line in lines
        )
        lines = _apply(lines, refund_shares(lines, value, named))
    assert [(line.refunded_fen, line.returned_units) for line in lines] == [
        (fen, units) for units, fen in totals
    ]


@given(
    totals=st.lists(st.tuples(st.integers(1, 50), st.integers(0, 10_000)), min_size=1, max_size=5),
    amounts=st.lists(st.integers(1, 10_000), min_size=1, max_size=5),
    named=st.lists(st.tuples(st.integers(1, 5), st.integers(1, 30)), max_size=3),
)
def test_shares_sum_to_the_amount_and_no_line_passes_its_total(
    totals: list[tuple[int, int]], amounts: list[int], named: list[tuple[int, int]]
) -> None:
    lines = [RefundLine(n, n, units, fen) for n, (units, fen) in enumerate(totals, 1)]
    for amount in amounts:
        left = sum(line.fen_left for line in lines)
        if left == 0:
            break
        returned = {
            product: min(units, line.units_left)
            for product, units in named
            for line in lines
            if line.product_id == product and line.units_left
        }
        cut = refund_shares(lines, min(amount, left), returned)
        assert sum(s.fen for s in cut) == min(amount, left)
        assert all(s.fen >= 0 and s.units >= 0 for s in cut)
        lines = _apply(lines, cut)
        assert all(line.refunded_fen <= line.total_fen for line in lines)
        assert all(line.returned_units <= line.units for line in lines)
