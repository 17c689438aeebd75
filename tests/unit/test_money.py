"""Fen arithmetic: parsing, formatting and the one rounding rule (half up)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pos.money import format_yuan, parse_yuan, percent_of, price_by_weight


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_formatting_then_parsing_gives_the_same_fen(fen: int) -> None:
    assert parse_yuan(format_yuan(fen)) == fen


@pytest.mark.parametrize(("text", "fen"), [("12.5", 1250), ("0.05", 5), ("-3", -300), (" 7 ", 700)])
def test_parse_yuan_reads_plain_amounts(text: str, fen: int) -> None:
    assert parse_yuan(text) == fen


@pytest.mark.parametrize("text", ["", "1.234", "1,00", "¥5", "1e3", "-"])
def test_parse_yuan_refuses_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match="not an amount"):
        parse_yuan(text)


@pytest.mark.parametrize(
    ("price_per_kg", "weight_g", "fen"),
    [(1999, 333, 666), (1000, 1, 1), (1, 499, 0), (1, 500, 1), (3600, 50_000, 180_000)],
)
def test_price_by_weight_rounds_half_up_to_the_fen(
    price_per_kg: int, weight_g: int, fen: int
) -> None:
    assert price_by_weight(price_per_kg, weight_g) == fen


@pytest.mark.parametrize(("amount", "percent", "fen"), [(1494, 30, 448), (5, 10, 1), (4, 10, 0)])
def test_percent_of_rounds_half_up_to_the_fen(amount: int, percent: int, fen: int) -> None:
    assert percent_of(amount, percent) == fen


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=100))
def test_a_percentage_never_exceeds_the_amount(amount: int, percent: int) -> None:
    assert 0 <= percent_of(amount, percent) <= amount
