"""Scanned codes: GTINs with their check digit, and in-store variable-measure labels.

Rules from the GS1 General Specifications: restricted circulation numbers (prefixes 20-29, whose
layout each store or country defines, section 2.1), the mod-10 check digit (7.9.1) and the
price/weight check digit (7.9.2-7.9.4).

Normalisation: UPC-A (12 digits) is the EAN-13 with a leading 0, so every GTIN-12 and GTIN-13 is
looked up as 13 digits; EAN-8 stays 8 digits (GTIN-8 is its own number space), and the catalog
reads a 13- or 14-digit code that only pads an EAN-8 with zeros as that EAN-8. An 8-digit scan is
read as EAN-8, never UPC-E: scanners are set to expand UPC-E to UPC-A before sending it.
A PLU is kept as 5 digits: staff type 1234 into the scale, which prints it as 01234 in a 5-digit
field and as 1234 in a 4-digit one; all three are the same PLU.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

from pos.catalog import codes
from pos.errors import InvalidInput

__all__ = [
    "CHINA_WEIGHT_SCHEME",
    "DEFAULT_SCHEMES",
    "LABEL_SCHEMES",
    "LabelScheme",
    "ScannedCode",
    "ScannedGtin",
    "ScannedVariable",
    "ValueKind",
    "VariableMeasureScheme",
    "gtin_check_digit",
    "is_valid_gtin",
    "normalize_gtin",
    "normalize_plu",
    "parse_barcode",
    "price_check_digit",
]

ValueKind: TypeAlias = Literal["weight_g", "price_fen"]

_DIGITS = re.compile(r"[0-9]+")
_PLU_LENGTHS = (4, 5)
_SCANNABLE_LENGTHS = (8, 12, 13)
_GTIN_LENGTHS = (8, 12, 13, 14)

# GS1 7.9.2: the weighting factors 2-, 3, 5+ and 5- as tables indexed by the digit.
_TWO_MINUS = (0, 2, 4, 6, 8, 9, 1, 3, 5, 7)
_THREE = (0, 3, 6, 9, 2, 5, 8, 1, 4, 7)
_FIVE_PLUS = (0, 5, 1, 6, 2, 7, 3, 8, 4, 9)
_FIVE_MINUS = (0, 5, 9, 4, 8, 3, 7, 2, 6, 1)


@dataclass(frozen=True, slots=True)
class VariableMeasureScheme:
    """How a store's scales lay out a 13-digit variable-measure label.

    Digits, left to right: the 2-digit prefix (20-29), the PLU, the price/weight check digit
    when `price_check_digit` is set, the value (grams or fen), the EAN-13 check digit.
    The layouts that fit 13 digits: PLU 5 + value 5 (China), PLU 5 + check + value 4
    (UK), PLU 4 + check + value 5 (Germany).
    """

    prefixes: tuple[str, ...]
    plu_digits: Literal[4, 5] = 5
    value_kind: ValueKind = "weight_g"
    value_digits: Literal[4, 5] = 5
    price_check_digit: bool = False

    def __post_init__(self) -> None:
        width = 2 + self.plu_digits + int(self.price_check_digit) + self.value_digits + 1
        if width != 13:
            raise ValueError(f"the label layout takes {width} digits, not 13: {self!r}")
        if not self.prefixes or any(re.fullmatch(r"2[0-9]", p) is None for p in self.prefixes):
            raise ValueError(f"prefixes must be two digits from 20 to 29: {self.prefixes!r}")


_EVERY_PREFIX = tuple(f"2{d}" for d in range(10))
# The layout Chinese supermarket scales print by default: 2x, PLU 5, weight in grams 5, check.
CHINA_WEIGHT_SCHEME = VariableMeasureScheme(prefixes=_EVERY_PREFIX)
DEFAULT_SCHEMES: tuple[VariableMeasureScheme, ...] = (CHINA_WEIGHT_SCHEME,)

LabelScheme: TypeAlias = Literal[
    "weight_plu5", "price_plu5", "price_plu5_check", "price_plu4_check"
]
"""How a store's scales print their labels (`Store.label_scheme`), for every prefix 20-29."""
LABEL_SCHEMES: dict[LabelScheme, VariableMeasureScheme] = {
    "weight_plu5": CHINA_WEIGHT_SCHEME,
    # China's amount labels (金额码): PLU 5, price in fen 5.
    "price_plu5": VariableMeasureScheme(_EVERY_PREFIX, value_kind="price_fen"),
    # PLU 5, price check digit, price in fen 4 (UK).
    "price_plu5_check": VariableMeasureScheme(
        _EVERY_PREFIX, value_kind="price_fen", value_digits=4, price_check_digit=True
    ),
    # PLU 4, price check digit, price in fen 5 (Germany).
    "price_plu4_check": VariableMeasureScheme(
        _EVERY_PREFIX, plu_digits=4, value_kind="price_fen", price_check_digit=True
    ),
}


@dataclass(frozen=True, slots=True)
class ScannedGtin:
    """A trade item's GTIN: 13 digits (EAN-13, UPC-A) or 8 (EAN-8)."""

    gtin: str


@dataclass(frozen=True, slots=True)
class ScannedVariable:
    """A store's own variable-measure label: its PLU (5 digits) and the weight or the price."""

    code: str
    plu: str
    weight_g: int | None
    price_fen: int | None


ScannedCode: TypeAlias = ScannedGtin | ScannedVariable


def gtin_check_digit(digits: str) -> int:
    """The GS1 mod-10 check digit for `digits` (a GTIN without its last digit)."""
    if _DIGITS.fullmatch(digits) is None:
        raise ValueError(f"not a digit string: {digits!r}")
    return int(codes.gtin_check_digit(digits))


def is_valid_gtin(code: str) -> bool:
    """True for an 8, 12, 13 or 14-digit string whose last digit is its GS1 check digit."""
    if len(code) not in _GTIN_LENGTHS or _DIGITS.fullmatch(code) is None:
        return False
    return gtin_check_digit(code[:-1]) == int(code[-1])


def price_check_digit(value: str) -> int:
    """The GS1 check digit of a 4- or 5-digit price or weight field."""
    if _DIGITS.fullmatch(value) is None or len(value) not in (4, 5):
        raise ValueError(f"not a 4- or 5-digit field: {value!r}")
    d = [int(c) for c in value]
    if len(d) == 4:
        # GS1 7.9.3: factors 2-, 2-, 3, 5-; the units digit of 3 x the sum.
        return (_TWO_MINUS[d[0]] + _TWO_MINUS[d[1]] + _THREE[d[2]] + _FIVE_MINUS[d[3]]) * 3 % 10
    # GS1 7.9.4: factors 5+, 2-, 5-, 5+, 2-; the check digit is the one whose 5- product
    # makes the sum a multiple of 10.
    total = _FIVE_PLUS[d[0]] + _TWO_MINUS[d[1]] + _FIVE_MINUS[d[2]]
    total += _FIVE_PLUS[d[3]] + _TWO_MINUS[d[4]]
    return _FIVE_MINUS.index(-total % 10)


def normalize_gtin(code: str) -> str:
    """Check a scanned EAN-13, UPC-A or EAN-8 and return it as 13 (or 8) digits."""
    text = code.strip()
    if _DIGITS.fullmatch(text) is None or len(text) not in _SCANNABLE_LENGTHS:
        raise InvalidInput(
            f"scanned {_shown(text)}: a barcode is 8, 12 or 13 digits (EAN-8, UPC-A, EAN-13)",
            code="barcode_format",
            scanned=_shown(text),
        )
    expected = gtin_check_digit(text[:-1])
    if expected != int(text[-1]):
        raise InvalidInput(
            f"scanned {text}: check digit is {text[-1]}, should be {expected}; scan it again",
            code="barcode_check_digit",
            scanned=text,
        )
    return text.zfill(13) if len(text) == 12 else text


def normalize_plu(plu: str) -> str:
    """Check a PLU of 4 or 5 digits and return it as 5, zero-padded."""
    if len(plu) not in _PLU_LENGTHS or _DIGITS.fullmatch(plu) is None:
        raise InvalidInput(f"a PLU is 4 or 5 digits, not {_shown(plu)}", code="plu_format")
    return plu.zfill(5)


def parse_barcode(
    code: str, schemes: Sequence[VariableMeasureScheme] = DEFAULT_SCHEMES
) -> ScannedCode:
    """Read a scan: a GTIN, or a variable-measure label read by the first scheme for its prefix."""
    gtin = normalize_gtin(code)
    if len(gtin) == 13:
        for scheme in schemes:
            if gtin[:2] in scheme.prefixes:
                return _decode_label(gtin, scheme)
    return ScannedGtin(gtin=gtin)


def _decode_label(code: str, scheme: VariableMeasureScheme) -> ScannedVariable:
    value_start = 2 + scheme.plu_digits + int(scheme.price_check_digit)
    value = code[value_start : value_start + scheme.value_digits]
    if scheme.price_check_digit:
        expected, printed = price_check_digit(value), int(code[value_start - 1])
        if expected != printed:
            raise InvalidInput(
                f"scanned {code}: the check digit of {value} is {printed}, should be {expected}",
                code="barcode_price_check",
                scanned=code,
            )
    amount = int(value)
    return ScannedVariable(
        code=code,
        plu=normalize_plu(code[2 : 2 + scheme.plu_digits]),
        weight_g=amount if scheme.value_kind == "weight_g" else None,
        price_fen=amount if scheme.value_kind == "price_fen" else None,
    )


def _shown(text: str) -> str:
    # Echo at most 32 characters: whatever a client sent ends up in the problem body.
    return repr(text if len(text) <= 32 else text[:32] + "...")
