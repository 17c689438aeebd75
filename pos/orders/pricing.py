"""Order pricing: load the products once, then price the requested lines with pure functions.

Decisions:
- Only the server's prices enter here; a client sends product ids, quantities and weights.
- A weight label (scale-printed) gives the weight; we price it at the product's price per kg.
  A price label gives the amount itself: the store's own scale computed it, and only a store
  whose scales print price labels reads them (`Store.label_scheme`). Its line weighs the grams
  the amount buys at the list price, rounded up: what it takes from stock.
- Lines are priced at list prices first; shelf-life markdowns come later (`apply_markdowns`),
  once the order holds its stock. A markdown covers only the units that will come from
  marked-down batches, each batch's at its own percent: the product's markdowns (pieces or
  grams those batches have left beyond other orders' holds, first sold first), shared by the
  product's lines in line order. A line's discount is each percent of what the units it covers
  cost, the first `k` units of a line costing their list price, all of them its whole amount.
- Label-priced lines are marked down too, for those grams: the scale prints the list price and
  does not know the markdown.
- Piece lines for the same product merge into one line; weighed lines stay apart, each is a
  separate bag on the scale.
- Every amount is integer fen, rounded once per line (half up); so is the discount.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal, TypeAlias

from pos.catalog.barcodes import ScannedVariable
from pos.db import MAX_INTEGER
from pos.errors import InvalidInput
from pos.inventory.fefo import Markdown
from pos.money import percent_of, price_by_weight

__all__ = [
    "MAX_LINES",
    "MAX_QUANTITY",
    "MAX_TOTAL_FEN",
    "MAX_WEIGHT_G",
    "LineRequest",
    "PricedLine",
    "PricedOrder",
    "PricedProduct",
    "Unit",
    "apply_markdowns",
    "line_for_label",
    "price_order",
]

Unit: TypeAlias = Literal["piece", "kg"]

MAX_LINES = 100
MAX_QUANTITY = 999
MAX_WEIGHT_G = 50_000
MAX_TOTAL_FEN = MAX_INTEGER  # amounts are INTEGER columns


@dataclass(frozen=True, slots=True)
class PricedProduct:
    """What pricing needs of a product, loaded once per order."""

    id: int
    name_zh: str
    unit: Unit
    price_fen: int
    certified: bool
    certificate_no: str
    origin_county_code: str
    origin_county_name: str

    def __post_init__(self) -> None:
        if self.price_fen < 0:
            raise ValueError(f"product {self.id}: price out of range")


@dataclass(frozen=True, slots=True)
class LineRequest:
    """One requested line: pieces by quantity, kg items by weight or by a price label."""

    product_id: int
    quantity: int | None = None
    weight_g: int | None = None
    label_price_fen: int | None = None
    price_label: str | None = None  # the label scanned, which a cart sends again


@dataclass(frozen=True, slots=True)
class PricedLine:
    """A priced line with the product facts frozen into the sale."""

    product: PricedProduct
    quantity: int | None
    weight_g: int | None
    amount_fen: int
    discount_fen: int
    label_priced: bool
    price_label: str | None = None

    @property
    def unit_price_fen(self) -> int:
        """Price per piece or per kg."""
        return self.product.price_fen

    @property
    def total_fen(self) -> int:
        """What the shopper pays for the line."""
        return self.amount_fen - self.discount_fen


@dataclass(frozen=True, slots=True)
class PricedOrder:
    """The priced lines and the order's totals in fen."""

    lines: tuple[PricedLine, ...]
    subtotal_fen: int
    discount_fen: int
    total_fen: int


def line_for_label(product_id: int, label: ScannedVariable) -> LineRequest:
    """The line a scanned variable-measure label asks for."""
    price_label = label.code if label.price_fen is not None else None
    return LineRequest(
        product_id,
        weight_g=label.weight_g,
        label_price_fen=label.price_fen,
        price_label=price_label,
    )


def price_order(
    requests: Sequence[LineRequest], products: Mapping[int, PricedProduct]
) -> PricedOrder:
    """Validate the requested lines and price them against the loaded products."""
    if not requests:
        raise InvalidInput("the order has no lines", code="order_empty")
    if len(requests) > MAX_LINES:
        raise InvalidInput(
            f"the order has {len(requests)} lines; at most {MAX_LINES} are allowed",
            code="order_too_many_lines",
        )
    for number, request in enumerate(requests, start=1):
        _check_line(number, request, _product(number, request, products))
    merged = _merge_pieces(requests)
    order = _totalled(tuple(_price_line(r, products[r.product_id]) for r in merged))
    if order.subtotal_fen > MAX_TOTAL_FEN:  # each line's amount is part of it
        raise InvalidInput(
            f"the order comes to {order.subtotal_fen} fen; one order holds at most"
            f" {MAX_TOTAL_FEN} fen",
            code="order_total_too_large",
        )
    return order


def apply_markdowns(order: PricedOrder, markdowns: Mapping[int, Sequence[Markdown]]) -> PricedOrder:
    """The order marked down: each product's lines, in line order, take its marked-down units."""
    taken: dict[int, int] = {}
    lines = []
    for line in order.lines:
        product_id = line.product.id
        before = taken.get(product_id, 0)
        taken[product_id] = before + _units(line)
        discount = _discount(line, before, markdowns.get(product_id, ()))
        lines.append(replace(line, discount_fen=discount))
    return _totalled(tuple(lines))


def _totalled(lines: tuple[PricedLine, ...]) -> PricedOrder:
    subtotal = sum(line.amount_fen for line in lines)
    discount = sum(line.discount_fen for line in lines)
    return PricedOrder(lines, subtotal, discount, subtotal - discount)


def _product(
    number: int, request: LineRequest, products: Mapping[int, PricedProduct]
) -> PricedProduct:
    product = products.get(request.product_id)
    if product is None:
        raise InvalidInput(
            f"line {number}: product {request.product_id} is not sold here",
            code="product_unknown",
            line=number,
        )
    return product


def _check_line(number: int, request: LineRequest, product: PricedProduct) -> None:
    if product.unit == "piece":
        _check_piece_line(number, request)
    else:
        _check_weighed_line(number, request, product)


def _check_piece_line(number: int, request: LineRequest) -> None:
    if request.weight_g is not None or request.label_price_fen is not None:
        raise _mismatch(number, "is sold by the piece; send a quantity, not a weight or a label")
    if request.quantity is None or not 1 <= request.quantity <= MAX_QUANTITY:
        raise _quantity_error(number, request.quantity)


def _check_weighed_line(number: int, request: LineRequest, product: PricedProduct) -> None:
    has_weight, has_label = request.weight_g is not None, request.label_price_fen is not None
    if request.quantity is not None or has_weight == has_label:
        raise _mismatch(number, "is sold by the kg; send a weight in grams or a price label")
    if request.weight_g is not None and not 1 <= request.weight_g <= MAX_WEIGHT_G:
        raise InvalidInput(
            f"line {number}: weight {request.weight_g} g is outside 1 g to {MAX_WEIGHT_G} g",
            code="line_weight",
            line=number,
        )
    most = price_by_weight(product.price_fen, MAX_WEIGHT_G)
    if request.label_price_fen is not None and not 1 <= request.label_price_fen <= most:
        raise InvalidInput(
            f"line {number}: label price {request.label_price_fen} fen is outside 1 to {most}",
            code="line_label_price",
            line=number,
        )


def _mismatch(number: int, why: str) -> InvalidInput:
    return InvalidInput(f"line {number}: the product {why}", code="line_unit_mismatch", line=number)


def _quantity_error(number: int, quantity: int | None, context: str = "") -> InvalidInput:
    return InvalidInput(
        f"line {number}: quantity {quantity}{context} is outside 1 to {MAX_QUANTITY}",
        code="line_quantity",
        line=number,
    )


def _merge_pieces(requests: Sequence[LineRequest]) -> list[LineRequest]:
    merged: list[LineRequest] = []
    piece_at: dict[int, int] = {}
    for number, request in enumerate(requests, start=1):
        if request.quantity is None:
            merged.append(request)
        elif (at := piece_at.get(request.product_id)) is None:
            piece_at[request.product_id] = len(merged)
            merged.append(request)
        else:
            quantity = (merged[at].quantity or 0) + request.quantity
            if quantity > MAX_QUANTITY:
                raise _quantity_error(number, quantity, " (with earlier lines for the product)")
            merged[at] = replace(merged[at], quantity=quantity)
    return merged


def _price_line(request: LineRequest, product: PricedProduct) -> PricedLine:
    label_fen = request.label_price_fen
    if label_fen is not None:
        grams = _grams_bought(product, label_fen)
        return PricedLine(product, None, grams, label_fen, 0, True, request.price_label)
    units = request.quantity or request.weight_g or 0  # checked: one of them
    return PricedLine(
        product=product,
        quantity=request.quantity,
        weight_g=request.weight_g,
        amount_fen=_list_price(product, units),
        discount_fen=0,
        label_priced=False,
    )


def _grams_bought(product: PricedProduct, amount_fen: int) -> int:
    """The grams `amount_fen` buys at the list price, rounded up (0 g would take nothing)."""
    grams, part = divmod(amount_fen * 1000, product.price_fen)
    return grams + (1 if part else 0)


def _discount(line: PricedLine, before: int, markdowns: Sequence[Markdown]) -> int:
    """The line's markdown, the product's lines before it having taken its first `before` units.

    Each markdown covers the product's next `units` units; the line gets its percent off what
    those of them that are the line's own cost.
    """
    units = _units(line)
    hundredths = 0  # fen x percent: rounded to the fen once, at the end
    start = -before  # where a markdown's units start, counted from the line's first unit
    for markdown in markdowns:
        end = start + markdown.units
        first, last = max(start, 0), min(end, units)
        if first < last:
            hundredths += (_cost(line, last) - _cost(line, first)) * markdown.percent
        start = end
    return percent_of(hundredths, 1)


def _units(line: PricedLine) -> int:
    """Pieces or grams the line takes."""
    return line.quantity or line.weight_g or 0


def _cost(line: PricedLine, units: int) -> int:
    """What the line's first `units` cost: their list price, or the line's amount for all."""
    return line.amount_fen if units == _units(line) else _list_price(line.product, units)


def _list_price(product: PricedProduct, units: int) -> int:
    """What `units` pieces or grams of the product cost at its price."""
    if product.unit == "piece":
        return product.price_fen * units
    return price_by_weight(product.price_fen, units)
