from __future__ import annotations

import pytest

from printers.text import (
    clean_text,
    display_width,
    format_fen,
    format_kg,
    pad_left,
    pad_right,
    wrap_text,
)


@pytest.mark.parametrize(
    ("text", "width"),
    [
        ("", 0),
        ("Apple 1kg", 9),
        ("赣南脐橙", 8),
        ("脐橙 5kg", 8),
        ("ＡＢ", 4),  # fullwidth Latin
        ("×·", 4),  # ambiguous: double-byte on a GB18030 printer
        ("ｶﾅ", 2),  # halfwidth katakana
    ],
)
def test_display_width_counts_wide_characters_twice(text: str, width: int) -> None:
    assert display_width(text) == width


@pytest.mark.parametrize(
    ("text", "cleaned"),
    [
        ("利辛\u3000面条", "利辛  面条"),  # a full-width space keeps its two columns
        ("tea\x1b@", "tea @"),  # an ESC/POS command is no longer one
        ("脐橙 5kg", "脐橙 5kg"),
    ],
)
def test_clean_text_replaces_what_does_not_print_keeping_its_width(text: str, cleaned: str) -> None:
    assert clean_text(text) == cleaned
    assert display_width(cleaned) == display_width(text)


@pytest.mark.parametrize(
    ("fen", "text"),
    [
        (0, "0.00"),
        (5, "0.05"),
        (100, "1.00"),
        (12345, "123.45"),
        (-500, "-5.00"),
        (-7, "-0.07"),
        (10**12 + 1, "10000000000.01"),
    ],
)
def test_format_fen_uses_integer_yuan_and_two_decimals(fen: int, text: str) -> None:
    assert format_fen(fen) == text


@pytest.mark.parametrize(
    ("grams", "text"), [(0, "0.000"), (5, "0.005"), (1250, "1.250"), (12345, "12.345")]
)
def test_format_kg_has_three_decimals(grams: int, text: str) -> None:
    assert format_kg(grams) == text


def test_padding_measures_display_width() -> None:
    assert pad_right("脐橙", 6) == "脐橙  "
    assert pad_left("脐橙", 6) == "  脐橙"
    assert display_width(pad_right("脐橙a", 9)) == 9


def test_wrap_never_splits_a_double_width_character() -> None:
    lines = wrap_text("云南怒江草果", 5)
    assert lines == ["云南", "怒江", "草果"]
    assert all(display_width(line) <= 5 for line in lines)


def test_wrap_keeps_ascii_words_whole_and_drops_leading_spaces() -> None:
    assert wrap_text("Mineral water 550ml bottle", 12) == ["Mineral", "water 550ml", "bottle"]


def test_wrap_mixes_chinese_and_words() -> None:
    assert wrap_text("贵州腊肉 礼盒装 500g×2", 10) == ["贵州腊肉", "礼盒装", "500g×2"]


def test_wrap_cuts_a_word_longer_than_the_line() -> None:
    assert wrap_text("CN-PA-5333232021000187", 10) == ["CN-PA-5333", "2320210001", "87"]


def test_wrap_of_empty_text_is_one_empty_line() -> None:
    assert wrap_text("", 10) == [""]


def test_clean_text_replaces_control_characters() -> None:
    assert clean_text("ok\x1b@\x1dV\x00\n") == "ok @ V  "
    assert clean_text("脐橙") == "脐橙"
