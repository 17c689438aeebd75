"""Money in integer fen and weight in integer grams: arithmetic and rounding, no floats."""

from __future__ import annotations

import re

__all__ = ["format_yuan", "parse_yuan", "percent_of", "price_by_weight"]

_YUAN = re.compile(r"^(?P<sign>-?)(?P<yuan>[0-9]+)(?:\.(?P<fen>[0-9]{1,2}))?$")


def parse_yuan(text: str) -> int:
    """'12.5' -> 1250 fen. Raises ValueError on anything but plain yuan with up to 2 decimals."""
    match = _YUAN.match(text.strip())
    if not match:
        raise ValueError(f"not an amount in yuan: {text!r}")
    fen = int(match["yuan"]) * 100 + int((match["fen"] or "0").ljust(2, "0"))
    return -fen if match["sign"] else fen


def format_yuan(fen: int) -> str:
    """1250 -> '12.50'."""
    sign = "-" if fen < 0 else ""
    yuan, rest = divmod(abs(fen), 100)
    return f"{sign}{yuan}.{rest:02d}"


def _round_half_up(numerator: int, denominator: int) -> int:
    quotient, remainder = divmod(numerator, denominator)
    return quotient + (1 if remainder * 2 >= denominator else 0)


def price_by_weight(price_per_kg_fen: int, weight_g: int) -> int:
    """Amount for a weighed item, rounded half up to the fen once."""
    return _round_half_up(price_per_kg_fen * weight_g, 1000)


def percent_of(amount_fen: int, percent: int) -> int:
    """`percent`% of an amount, rounded half up to the fen."""
    return _round_half_up(amount_fen * percent, 100)
