from __future__ import annotations

import pytest

from pos.errors import InvalidInput
from pos.orders.pricing import MAX_QUANTITY
from pos.pages.kiosk import CartLine, CartView, ShownLine, apply_button, parse_lines


def _lines() -> list[CartLine]:
    return [CartLine(p=1, q=2), CartLine(p=2, g=1500)]


def test_plus_and_minus_change_pieces_and_minus_at_one_removes() -> None:
    assert apply_button(_lines(), "inc:0")[0].q == 3
    assert apply_button(_lines(), "dec:0")[0].q == 1
    one = [CartLine(p=1, q=1)]
    assert apply_button(one, "dec:0") == []


def test_plus_stops_at_the_most_pieces_a_line_may_hold() -> None:
    full = [CartLine(p=1, q=MAX_QUANTITY)]
    assert apply_button(full, "inc:0") == full  # not a line pricing would refuse and drop


def test_a_weighed_line_is_only_removed() -> None:
    assert apply_button(_lines(), "inc:1") == _lines()
    assert apply_button(_lines(), "del:1") == [CartLine(p=1, q=2)]


@pytest.mark.parametrize("op", ["", "inc:9", "del:x", "boom", "inc:²", "del:" + "9" * 5000])
def test_unknown_or_stale_buttons_change_nothing(op: str) -> None:
    assert apply_button(_lines(), op) == _lines()


def test_clear_empties_the_cart() -> None:
    assert apply_button(_lines(), "clear") == []


@pytest.mark.parametrize("text", ["not json", '[{"p": "x"}]', '[{"p": 1, "q": 0}]'])
def test_a_garbled_cart_is_refused_as_invalid_input(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_lines(text)


def test_the_view_gives_back_canonical_lines() -> None:
    view = CartView(
        (
            ShownLine(1, "面", "Noodles", "piece", 2, None, 1880, 3760),
            ShownLine(2, "菜", "Cabbage", "kg", None, 1500, 680, 1020),
        ),
        4780,
    )
    assert view.lines_json == '[{"p":1,"q":2},{"p":2,"g":1500}]'
