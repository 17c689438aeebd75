"""Check characters of unified social credit codes (GB 32100-2015) and GTINs (GS1 mod 10)."""

from __future__ import annotations

import pytest

from pos.catalog.codes import (
    canonical_gtin,
    credit_code_check_char,
    gtin_check_digit,
    is_valid_credit_code,
    is_valid_gtin,
)


@pytest.mark.parametrize("code", ["91110108551385082Q", "914403001922038216", "91350100M000100Y43"])
def test_published_credit_codes_are_valid(code: str) -> None:
    assert is_valid_credit_code(code)
    assert credit_code_check_char(code[:17]) == code[17]


@pytest.mark.parametrize(
    "code",
    [
        "91350100M000100Y44",  # wrong check character
        "91350100M000100I43",  # I is not in the alphabet
        "91350100m000100y43",  # lowercase is not either
        "91350100M000100Y4",  # too short
        "",
    ],
)
def test_bad_credit_codes_are_refused(code: str) -> None:
    assert not is_valid_credit_code(code)


def test_credit_check_char_names_a_bad_character() -> None:
    with pytest.raises(ValueError, match="'O'"):
        credit_code_check_char("9135010OM000100Y4")


@pytest.mark.parametrize("code", ["6901234567892", "4006381333931", "96385074", "036000291452"])
def test_ean13_ean8_and_upca_with_their_check_digit_are_valid(code: str) -> None:
    assert is_valid_gtin(code)
    assert gtin_check_digit(code[:-1]) == code[-1]


@pytest.mark.parametrize(
    "code",
    [
        "6901234567893",
        "690123456789",
        "69012345678922",
        "690123456789x",
        "６９０１２３４５６７８９２",
    ],
)
def test_bad_gtins_are_refused(code: str) -> None:
    assert not is_valid_gtin(code)


def test_upca_and_padded_gtin14_are_stored_as_their_ean13() -> None:
    assert canonical_gtin("036000291452") == "0036000291452"
    assert canonical_gtin("00036000291452") == "0036000291452"
    assert canonical_gtin("6901234567892") == "6901234567892"
    assert canonical_gtin("96385074") == "96385074"


def test_zeros_padding_an_ean8_to_gtin13_or_gtin14_leave_the_ean8() -> None:
    assert canonical_gtin("0000096385074") == "96385074"
    assert canonical_gtin("00000096385074") == "96385074"
    assert canonical_gtin("000096385074") == "96385074"  # as UPC-A
