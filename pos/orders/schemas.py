"""Request and response models of the orders API.

Requests carry no prices: the server prices every line, and fields a client adds are ignored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pos.db import OptionalRowId
from pos.inputs import Input
from pos.orders.states import OrderState

__all__ = [
    "CounterOrderIn",
    "LineIn",
    "OrderIn",
    "OrderLineOut",
    "OrderOut",
    "TransitionOut",
]


class LineIn(Input):
    """A product by id or by scanned barcode, with pieces, or grams for a product sold by kg.

    A variable-measure (scale) label is one item with its weight or price: its line has no
    `quantity` or `weight_g` of its own.
    """

    model_config = ConfigDict(extra="ignore")

    product_id: OptionalRowId = None
    barcode: str | None = Field(default=None, max_length=64, description="the digits scanned")
    quantity: int | None = Field(default=None, description="pieces; default 1 for a barcode")
    weight_g: int | None = Field(default=None, description="grams, for products sold by kg")


class OrderIn(Input):
    """What a kiosk sends."""

    model_config = ConfigDict(extra="ignore")

    lines: list[LineIn] = Field(min_length=1, max_length=100)


class CounterOrderIn(OrderIn):
    """What a shopper's phone sends: the lines and the token from the counter's QR code."""

    counter_token: str = Field(max_length=128)


class OrderLineOut(BaseModel):
    """A line as sold, with the product's facts frozen at the moment of sale."""

    line_no: int
    product_id: int
    name_zh: str
    unit: Literal["piece", "kg"]
    quantity: int | None
    weight_g: int | None
    unit_price_fen: int = Field(description="per piece or per kg")
    amount_fen: int
    discount_fen: int
    total_fen: int
    certified: bool
    certificate_no: str
    origin_county_code: str
    origin_county_name: str
    supplier_id: int
    supplier_name: str


class TransitionOut(BaseModel):
    """One step of an order's history."""

    from_state: str | None = Field(description="None for the creation")
    to_state: str
    event: str
    at: datetime
    actor: str = Field(description="who: counter:1, device:2, staff:3, worker, payments")
    reason: str


class OrderOut(BaseModel):
    id: int
    number: str = Field(description="shown to the shopper and staff")
    store_id: int
    counter_id: int | None
    device_id: int | None
    state: OrderState
    subtotal_fen: int
    discount_fen: int
    total_fen: int
    refunded_fen: int
    created_at: datetime
    expires_at: datetime = Field(description="an unpaid order closes then")
    paid_at: datetime | None
    payment_method: str
    lines: list[OrderLineOut]
    access_token: str | None = Field(
        default=None, description="only when created: pass it as ?token= to read the order"
    )
