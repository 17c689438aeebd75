"""Order pricing: load the products once, then price the requested lines with pure functions.

Decisions:
- Only the server's prices enter here; a client sends product ids, quantities and weights.
- A weight label (scale-printed) gives the weight; we price it at the product's price per kg.
  A price label gives the amount itself and no weight: the store's own scale computed it, and
  the service lets price labels through only for stores that trust their scales.
- A shelf-life markdown covers only the units that will come from marked-down batches: the
  product's `markdown_units` (pieces or grams those batches have left beyond other orders'
  holds), shared by the product's lines in line order. A line's discount is the markdown
  percentage of what its covered units cost: its whole amount when all are covered, else their
  price at the list price.
- Label-priced lines are marked down too: the scale prints the list price and does not know the
  markdown, so a label stands for the grams its amount buys at the list price (rounded up).
- Piece lines for the same product merge into one line; weighed lines stay apart, each is a
  separate bag on the scale.
- Every amount is integer fen, rounded once per line (half up); so is the discount.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal, TypeAlias

from pos.errors import InvalidInput
from pos.money import percent_of, price_by_weight

from .barcodes import ScannedVariable

__all__ = [
    "MAX_LINES",
    "MAX_QUANTITY",
    "MAX_WEIGHT_G",
    "LineRequest",
    "PricedLine",
    "PricedOrder",
    "PricedProduct",
    "Unit",
    "line_for_label",
    "price_order",
]

Unit: TypeAlias = Literal["piece", "kg"]

MAX_LINES = 100
MAX_QUANTITY = 999
MAX_WEIGHT_G = 50_000


@dataclass(frozen=True, slots=True)
class PricedProduct:
    """What pricing needs of a product, loaded once per order, markdown as of now.

    The markdown is `markdown_percent` off the first `markdown_units` units the order takes.
    """

    id: int
    name_zh: str
    unit: Unit
    price_fen: int
    certified: bool
    certificate_no: str
    origin_county_code: str
    origin_county_name: str
    markdown_percent: int = 0
    markdown_units: int = 0

    def __post_init__(self) -> None:
        if self.price_fen < 0 or not 0 <= self.markdown_percent <= 100 or self.markdown_units < 0:
            raise ValueError(f"product {self.id}: price or markdown out of range")


@dataclass(frozen=True, slots=True)
class LineRequest:
    """One requested line: pieces by quantity, kg items by weight or by a price label."""

    product_id: int
    quantity: int | None = None
    weight_g: int | None = None
    label_price_fen: int | None = None


@dataclass(frozen=True, slots=True)
class PricedLine:
    """A priced line with the product facts frozen into the sale."""

    product: PricedProduct
    quantity: int | None
    weight_g: int | None
    amount_fen: int
    discount_fen: int
    label_priced: bool

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
    return LineRequest(product_id, weight_g=label.weight_g, label_price_fen=label.price_fen)


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
    lines = _price_lines(_merge_pieces(requests), products)
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


def _price_lines(
    requests: Sequence[LineRequest], products: Mapping[int, PricedProduct]
) -> tuple[PricedLine, ...]:
    """Price the lines in order, each taking its product's marked-down units that are left."""
    marked_down_left = {product_id: p.markdown_units for product_id, p in products.items()}
    lines = []
    for request in requests:
        product = products[request.product_id]
        units = _units(request, product)
        marked_down = min(units, marked_down_left[product.id])
        marked_down_left[product.id] -= marked_down
        lines.append(_price_line(request, product, units, marked_down))
    return tuple(lines)


def _units(request: LineRequest, product: PricedProduct) -> int:
    """Pieces or grams the line takes; a price label's grams are what it buys at list price."""
    if request.quantity is not None:
        return request.quantity
    if request.weight_g is not None:
        return request.weight_g
    grams, part = divmod((request.label_price_fen or 0) * 1000, product.price_fen)
    return grams + (1 if part else 0)  # up: 0 g would count as covered whole


def _price_line(
    request: LineRequest, product: PricedProduct, units: int, marked_down: int
) -> PricedLine:
    label_fen = request.label_price_fen
    amount = _list_price(product, units) if label_fen is None else label_fen
    marked_down_fen = amount if marked_down == units else _list_price(product, marked_down)
    return PricedLine(
        product=product,
        quantity=request.quantity,
        weight_g=request.weight_g,
        amount_fen=amount,
        discount_fen=percent_of(marked_down_fen, product.markdown_percent),
        label_priced=label_fen is not None,
    )


def _list_price(product: PricedProduct, units: int) -> int:
    """What `units` pieces or grams of the product cost at its price."""
    if product.unit == "piece":
        return product.price_fen * units
    return price_by_weight(product.price_fen, units)
