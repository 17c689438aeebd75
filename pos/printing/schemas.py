"""Printing contracts: the order events it reads, and the staff API's models."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pos.db import OptionalRowId
from pos.inputs import Input

__all__ = [
    "JobKind",
    "JobState",
    "PaidLine",
    "PaidOrder",
    "PrintJobOut",
    "PrinterOut",
    "PrinterStatusOut",
    "Refund",
    "RefundedLine",
    "RefundedOrder",
    "ReprintIn",
]

JobKind = Literal["receipt", "reprint", "refund"]
JobState = Literal["queued", "sending", "printed", "waiting", "failed", "cancelled"]


class PaidLine(BaseModel):
    """A line as sold, from the `order_paid` payload (the orders API's line)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    line_no: int
    name_zh: str
    unit: Literal["piece", "kg"]
    quantity: int | None
    weight_g: int | None
    unit_price_fen: int
    amount_fen: int
    discount_fen: int
    total_fen: int
    certified: bool
    certificate_no: str
    origin_county_name: str


class _PrintedOrder(BaseModel):
    """What every printout of an order needs: which it is, where it was sold, how paid."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: int
    number: str
    store_id: int
    counter_id: int | None
    device_id: int | None
    total_fen: int
    payment_method: str = Field(description="<provider>_<method>, e.g. wechat_qr")


class PaidOrder(_PrintedOrder):
    """The sale frozen into the `order_paid` event's payload; fields printing needs only."""

    subtotal_fen: int
    discount_fen: int
    paid_at: datetime
    payment_reference: str
    lines: list[PaidLine]


class Refund(BaseModel):
    """One refund, from the `order_refunded` payload: `returned` the units it pays back per
    product id, `restock` those of them back on the shelf.

    A unit is a piece, or a gram of a product sold by kg.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    order_id: int
    amount_fen: int = Field(description="refunded now")
    refunded_fen: int = Field(description="refunded so far, this refund included")
    refunded_at: datetime
    restock: dict[int, int]
    returned: dict[int, int] | None = Field(
        default=None,
        description="None in events from before refunds named the goods they pay back: restock's",
    )
    slip_printer_id: int | None = Field(
        default=None, description="where staff asked the slip to print; None: the sale's printer"
    )


class RefundedLine(BaseModel):
    """A sold line as a refund slip names the goods taken back."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    product_id: int
    name_zh: str
    unit: Literal["piece", "kg"]


class RefundedOrder(_PrintedOrder):
    """The refunded order as orders' service gives it; fields the refund slip needs only."""

    lines: list[RefundedLine]


class PrinterStatusOut(BaseModel):
    online: bool
    paper_out: bool
    cover_open: bool
    paper_near_end: bool
    ready: bool = Field(description="a receipt sent now would print")
    reason: str | None = Field(description="why it cannot print: paper out, cover open, ...")
    checked_at: datetime


class PrintJobOut(BaseModel):
    id: int
    printer_id: int
    order_id: int
    kind: JobKind
    state: JobState
    attempts: int = Field(description="sends that could not reach the printer")
    next_attempt_at: datetime
    last_error: str = Field(description="why it waits or failed")
    created_at: datetime
    printed_at: datetime | None
    created_by: str


class PrinterOut(BaseModel):
    id: int
    name: str
    paper_width_mm: int
    status: PrinterStatusOut | None = Field(description="null until it was first asked")
    jobs: list[PrintJobOut] = Field(
        description="unprinted jobs, oldest first: the queue (its first 200)"
    )


class ReprintIn(Input):
    printer_id: OptionalRowId = Field(
        default=None,
        description="one of the store's printers; default: where the receipt printed, else"
        " the seller's (the order's kiosk's or counter's printer now)",
    )
