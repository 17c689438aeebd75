"""Which order lines a refund pays back, and how much of each (pure).

A refund names the goods it pays for (product id -> pieces, or grams of kg products). They are
taken from that product's lines in line order, each line up to the units it has not had back;
their value is the line's total for those units on running totals,
floor(total * (back_before + u) / units) - floor(total * back_before / units), so successive
returns add up to exactly the line's total, and never more than the line's fen not refunded yet.
An amount up to the named goods' value is spread over their lines in proportion to that value;
beyond it, those lines get their value and the rest is spread over every line's fen not refunded
yet. A refund naming no goods (a goodwill discount) is spread over what is left of all lines.
Spreading is by largest remainder (ties: the earlier line), so the shares add up exactly to the
amount and no line ever passes its total.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pos.errors import InvalidInput

__all__ = ["LineShare", "RefundLine", "refund_shares"]


@dataclass(frozen=True, slots=True)
class RefundLine:
    """An order line as refunds see it: what it sold, and what earlier refunds took of it."""

    line_no: int
    product_id: int
    units: int  # pieces, or grams of a kg product
    total_fen: int
    refunded_fen: int = 0
    returned_units: int = 0

    @property
    def fen_left(self) -> int:
        return self.total_fen - self.refunded_fen

    @property
    def units_left(self) -> int:
        return self.units - self.returned_units


@dataclass(frozen=True, slots=True)
class LineShare:
    """One line's part of a refund: fen paid back and units (pieces or grams) returned."""

    line_no: int
    fen: int
    units: int


def _spread(amount: int, weights: Sequence[int]) -> list[int]:
    """`amount` split in proportion to `weights` by largest remainder (ties: the earlier one).

    Each part is at most its weight when `amount` is at most their sum.
    """
    whole = sum(weights)
    if whole <= 0:
        return [0] * len(weights)
    parts = [amount * weight // whole for weight in weights]
    short = amount - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: (-(amount * weights[i] % whole), i))
    for i in order[:short]:
        parts[i] += 1
    return parts


def refund_shares(
    lines: Sequence[RefundLine], amount_fen: int, returned: Mapping[int, int]
) -> list[LineShare]:
    """Each line's share of a refund of `amount_fen` paying for the `returned` goods, in line
    order (zero shares included).

    InvalidInput `returned_more_than_sold` for more units of a product than its lines have not
    had back; ValueError for an amount more than the lines have not had refunded.
    """
    ordered = sorted(lines, key=lambda line: line.line_no)
    if amount_fen > sum(line.fen_left for line in ordered):
        raise ValueError(f"{amount_fen} fen is more than the order has left to refund")
    units = _take_units(ordered, returned)
    values = [_value_of(line, u) for line, u in zip(ordered, units, strict=True)]
    if amount_fen <= sum(values):
        fen = _spread(amount_fen, values)
    else:
        rest = _spread(
            amount_fen - sum(values),
            [line.fen_left - value for line, value in zip(ordered, values, strict=True)],
        )
        fen = [value + more for value, more in zip(values, rest, strict=True)]
    return [LineShare(line.line_no, f, u) for line, f, u in zip(ordered, fen, units, strict=True)]


def _take_units(lines: Sequence[RefundLine], returned: Mapping[int, int]) -> list[int]:
    """The units of each line the returned goods are, taken in line order."""
    taken = [0] * len(lines)
    for product_id, wanted in returned.items():
        left = wanted
        for i, line in enumerate(lines):
            if line.product_id == product_id and left > 0:
                taken[i] = min(left, max(line.units_left, 0))
                left -= taken[i]
        if left > 0:
            can = wanted - left
            raise InvalidInput(
                f"product {product_id}: {wanted} units cannot be returned, {can} can",
                code="returned_more_than_sold",
                product_id=product_id,
                returnable=can,
            )
    return taken


def _value_of(line: RefundLine, units: int) -> int:
    """What `units` more of the line are worth after those back already, at most its fen left."""
    if units <= 0:
        return 0
    before = line.returned_units
    value = line.total_fen * (before + units) // line.units - line.total_fen * before // line.units
    return min(value, line.fen_left)
