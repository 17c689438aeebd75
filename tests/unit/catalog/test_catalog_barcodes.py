"""Barcode parsing: GTIN check digits, normalisation and variable-measure labels."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pos.catalog.barcodes import (
    CHINA_WEIGHT_SCHEME,
    LABEL_SCHEMES,
    LabelScheme,
    ScannedGtin,
    ScannedVariable,
    VariableMeasureScheme,
    gtin_check_digit,
    is_valid_gtin,
    normalize_gtin,
    normalize_plu,
    parse_barcode,
    price_check_digit,
)
from pos.errors import InvalidInput

UK_PRICE = VariableMeasureScheme(("20",), 5, "price_fen", 4, price_check_digit=True)
GERMAN_WEIGHT = VariableMeasureScheme(("28", "29"), 4, "weight_g", 5, price_check_digit=True)
CHINA_PRICE = VariableMeasureScheme(("22",), 5, "price_fen", 5)


def digits(length: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=length, max_size=length)


def label(prefix: str, plu: str, value: str, *, price_check: bool = False) -> str:
    """A 13-digit label as a scale prints it, both check digits computed."""
    body = prefix + plu + (str(price_check_digit(value)) if price_check else "") + value
    return body + str(gtin_check_digit(body))


def with_digit_changed(code: str, position: int, shift: int) -> str:
    changed = (int(code[position]) + shift) % 10
    return code[:position] + str(changed) + code[position + 1 :]


@pytest.mark.parametrize(
    ("body", "check"),
    [("400638133393", 1), ("03600029145", 2), ("9638507", 4), ("690123456789", 2)],
)
def test_gtin_check_digit_matches_published_examples(body: str, check: int) -> None:
    assert gtin_check_digit(body) == check


@given(body=st.sampled_from([7, 11, 12, 13]).flatmap(digits))
def test_a_gtin_with_its_computed_check_digit_is_valid(body: str) -> None:
    assert is_valid_gtin(body + str(gtin_check_digit(body)))


@given(
    body=digits(12),
    position=st.integers(min_value=0, max_value=12),
    shift=st.integers(min_value=1, max_value=9),
)
def test_any_single_wrong_digit_makes_a_gtin_invalid(body: str, position: int, shift: int) -> None:
    code = body + str(gtin_check_digit(body))
    assert not is_valid_gtin(with_digit_changed(code, position, shift))


@pytest.mark.parametrize("code", ["", "abc", "4006381333931 ", "12345", "40063813339310x", "٤٠٠٦"])
def test_is_valid_gtin_is_false_for_anything_but_gtin_digits(code: str) -> None:
    assert not is_valid_gtin(code)


def test_is_valid_gtin_accepts_gtin_14() -> None:
    assert is_valid_gtin("10012345678902")


def test_gtin_check_digit_refuses_non_digits() -> None:
    with pytest.raises(ValueError, match="not a digit string"):
        gtin_check_digit("12a4")


def test_ean13_is_kept_as_is() -> None:
    assert parse_barcode("4006381333931") == ScannedGtin("4006381333931")


def test_upc_a_is_looked_up_as_ean13_with_a_leading_zero() -> None:
    assert parse_barcode("036000291452") == ScannedGtin("0036000291452")


def test_ean8_stays_eight_digits() -> None:
    assert parse_barcode("96385074") == ScannedGtin("96385074")


def test_the_scanners_trailing_newline_is_ignored() -> None:
    assert normalize_gtin(" 4006381333931\r\n") == "4006381333931"


def test_upc_a_with_number_system_2_is_not_a_store_label() -> None:
    code = "21234567890" + str(gtin_check_digit("21234567890"))
    assert parse_barcode(code) == ScannedGtin("0" + code)


@pytest.mark.parametrize(
    "code", ["", "abcdefgh", "4006381-33931", "1234567", "40063813339312", "١٢٣٤٥٦٧٨", "9" * 500]
)
def test_a_code_that_is_not_8_12_or_13_digits_is_a_format_error(code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_barcode(code)
    assert caught.value.code == "barcode_format"
    assert "8, 12 or 13 digits" in caught.value.detail
    assert len(caught.value.detail) < 120


def test_a_wrong_check_digit_names_the_scan_and_the_right_digit() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_barcode("4006381333932")
    assert caught.value.code == "barcode_check_digit"
    assert caught.value.detail.startswith("scanned 4006381333932: check digit is 2, should be 1")
    assert caught.value.extra == {"scanned": "4006381333932"}


def test_default_scheme_reads_plu_and_weight_in_grams() -> None:
    code = label("21", "01234", "00456")
    assert parse_barcode(code) == ScannedVariable(code, "01234", weight_g=456, price_fen=None)


@given(prefix=st.sampled_from(CHINA_WEIGHT_SCHEME.prefixes), plu=digits(5), weight=digits(5))
def test_default_scheme_round_trips_every_label(prefix: str, plu: str, weight: str) -> None:
    code = label(prefix, plu, weight)
    assert parse_barcode(code) == ScannedVariable(code, plu, int(weight), None)


def test_a_label_with_a_wrong_ean_check_digit_is_refused_before_decoding() -> None:
    code = label("21", "01234", "00456")
    with pytest.raises(InvalidInput) as caught:
        parse_barcode(with_digit_changed(code, 12, 1))
    assert caught.value.code == "barcode_check_digit"


@pytest.mark.parametrize(("field", "check"), [("2875", 9), ("14685", 6)])
def test_price_check_digit_matches_gs1_examples(field: str, check: int) -> None:
    assert price_check_digit(field) == check


@given(
    field=st.sampled_from([4, 5]).flatmap(digits),
    position=st.integers(min_value=0, max_value=4),
    shift=st.integers(min_value=1, max_value=9),
)
def test_any_single_wrong_price_digit_changes_the_price_check(
    field: str, position: int, shift: int
) -> None:
    position %= len(field)
    assert price_check_digit(with_digit_changed(field, position, shift)) != price_check_digit(field)


@pytest.mark.parametrize("field", ["123", "123456", "12a4"])
def test_price_check_digit_takes_four_or_five_digits(field: str) -> None:
    with pytest.raises(ValueError, match="4- or 5-digit"):
        price_check_digit(field)


def test_uk_layout_reads_a_price_with_its_check_digit_in_position_8() -> None:
    assert parse_barcode("2011122912346", [UK_PRICE]) == ScannedVariable(
        "2011122912346", "11122", weight_g=None, price_fen=1234
    )


def test_a_wrong_price_check_digit_is_refused() -> None:
    # The same label with 8 for the price check digit of 1234 (which is 9), EAN check fixed up.
    with pytest.raises(InvalidInput) as caught:
        parse_barcode("2011122812349", [UK_PRICE])
    assert caught.value.code == "barcode_price_check"
    assert "check digit of 1234 is 8, should be 9" in caught.value.detail


@given(plu=digits(4), weight=digits(5))
def test_german_layout_round_trips_a_five_digit_weight(plu: str, weight: str) -> None:
    code = label("28", plu, weight, price_check=True)
    scanned = ScannedVariable(code, "0" + plu, int(weight), None)
    assert parse_barcode(code, [GERMAN_WEIGHT]) == scanned


@pytest.mark.parametrize(
    ("typed", "kept"), [("1234", "01234"), ("01234", "01234"), ("99999", "99999")]
)
def test_a_plu_is_kept_as_five_digits(typed: str, kept: str) -> None:
    assert normalize_plu(typed) == kept


@pytest.mark.parametrize("plu", ["", "123", "123456", "12a4", "١٢٣٤"])
def test_a_plu_that_is_not_4_or_5_digits_is_a_format_error(plu: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_plu(plu)
    assert caught.value.code == "plu_format"


def test_a_price_label_carries_the_price_and_no_weight() -> None:
    code = label("22", "00017", "01280")
    assert parse_barcode(code, [CHINA_PRICE]) == ScannedVariable(code, "00017", None, 1280)


def test_a_2x_code_outside_the_stores_prefixes_is_a_plain_gtin() -> None:
    code = label("25", "00017", "01280")
    assert parse_barcode(code, [CHINA_PRICE]) == ScannedGtin(code)


def test_the_first_scheme_listing_a_prefix_wins() -> None:
    code = label("22", "00017", "01280")
    scanned = parse_barcode(code, [CHINA_PRICE, CHINA_WEIGHT_SCHEME])
    assert scanned == ScannedVariable(code, "00017", None, 1280)


def test_no_schemes_reads_every_code_as_a_gtin() -> None:
    code = label("21", "01234", "00456")
    assert parse_barcode(code, []) == ScannedGtin(code)


@pytest.mark.parametrize(
    ("plu_digits", "value_digits", "price_check"), [(5, 5, True), (4, 4, True), (4, 5, False)]
)
def test_a_scheme_must_fill_exactly_13_digits(
    plu_digits: int, value_digits: int, price_check: bool
) -> None:
    with pytest.raises(ValueError, match="not 13"):
        VariableMeasureScheme(("20",), plu_digits, "weight_g", value_digits, price_check)  # type: ignore[arg-type]


@pytest.mark.parametrize("prefixes", [(), ("30",), ("2",), ("2a",)])
def test_a_scheme_takes_only_prefixes_20_to_29(prefixes: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="prefixes"):
        VariableMeasureScheme(prefixes)


@pytest.mark.parametrize(
    ("scheme", "code", "plu", "price_fen"),
    [
        ("price_plu5", label("22", "00017", "01280"), "00017", 1280),
        ("price_plu5_check", "2011122912346", "11122", 1234),
        ("price_plu4_check", label("28", "1234", "01280", price_check=True), "01234", 1280),
    ],
)
def test_a_store_whose_scales_print_prices_reads_the_price_under_every_prefix(
    scheme: LabelScheme, code: str, plu: str, price_fen: int
) -> None:
    assert parse_barcode(code, [LABEL_SCHEMES[scheme]]) == ScannedVariable(
        code, plu, None, price_fen
    )
    assert LABEL_SCHEMES[scheme].prefixes == CHINA_WEIGHT_SCHEME.prefixes  # 20 to 29
