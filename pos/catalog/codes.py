"""The codes a catalog carries: credit codes and GTINs with their check characters, and
administrative division codes (pure)."""

from __future__ import annotations

from operator import mul

__all__ = [
    "PROVINCE_CODES",
    "canonical_gtin",
    "county_code_problem",
    "credit_code_check_char",
    "gtin_check_digit",
    "is_in_store_number",
    "is_valid_credit_code",
    "is_valid_gtin",
]

# GB 32100-2015: the 31 characters a unified social credit code uses (no I, O, S, V, Z),
# and the weight of each of the first 17 positions (3**i mod 31).
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_VALUES = {char: value for value, char in enumerate(CREDIT_ALPHABET)}
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_GTIN_LENGTHS = frozenset({8, 12, 13})
# GB/T 2260: the first two digits of every administrative division code name its province.
PROVINCE_CODES = frozenset(
    str(code)
    for code in (
        *range(11, 16), *range(21, 24), *range(31, 38), *range(41, 47), *range(50, 55),
        *range(61, 66), 71, 81, 82,
    )
)  # fmt: skip
_EAN8_PADDING = "00000"


def credit_code_check_char(first17: str) -> str:
    """The 18th character of a credit code whose first 17 are given (ValueError if invalid)."""
    if len(first17) != 17:
        raise ValueError("a credit code has 17 characters before its check character")
    try:
        total = sum(map(mul, map(_CREDIT_VALUES.__getitem__, first17), _CREDIT_WEIGHTS))
    except KeyError as exc:
        raise ValueError(f"{exc.args[0]!r} is not used in credit codes") from None
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def is_valid_credit_code(code: str) -> bool:
    """Whether `code` is 18 characters of the GB 32100 alphabet with the right check character."""
    if len(code) != 18:
        return False
    try:
        return credit_code_check_char(code[:17]) == code[17]
    except ValueError:
        return False


def gtin_check_digit(body: str) -> str:
    """The GS1 mod-10 check digit for the digits before it."""
    # Summing the ASCII bytes and taking away 48 ("0") per digit beats int() per character.
    tripled, single = body[::-2].encode(), body[-2::-2].encode()
    total = 3 * (sum(tripled) - 48 * len(tripled)) + sum(single) - 48 * len(single)
    return str(-total % 10)


def is_valid_gtin(code: str) -> bool:
    """Whether `code` is an EAN-13, EAN-8 or UPC-A with a valid check digit."""
    return (
        len(code) in _GTIN_LENGTHS
        and code.isascii()
        and code.isdigit()
        and gtin_check_digit(code[:-1]) == code[-1]
    )


def canonical_gtin(code: str) -> str:
    """The stored form of a GTIN: EAN-13, or EAN-8 when that is what the leading zeros pad.

    UPC-A and a 0-padded GTIN-14 become the EAN-13 form. GS1 keeps GTIN-13s that start with
    five zeros for padded GTIN-8s, so those are EAN-8s (stored as their 8 digits).
    """
    if len(code) == 14 and code.startswith("0"):
        code = code[1:]
    if len(code) == 12:
        code = "0" + code
    return code[5:] if len(code) == 13 and code.startswith(_EAN8_PADDING) else code


def is_in_store_number(gtin: str) -> bool:
    """Whether a canonical GTIN is a restricted circulation number (EAN-13 prefix 20-29).

    A store's scales print these on weighed goods; no product carries one as its own GTIN.
    """
    return len(gtin) == 13 and "20" <= gtin[:2] <= "29"


def county_code_problem(code: str) -> str | None:
    """Why a 6-digit code cannot be a county's under GB/T 2260, or None when it can be."""
    if code[:2] not in PROVINCE_CODES:
        return f"{code[:2]} is no province"
    if code[2:] == "0000":
        return "it is a province's"
    return None
