"""Request and response models of the inventory API (supplier sync's are in sync_schemas.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from annotated_types import Le
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    Field,
    StringConstraints,
    model_validator,
)

from pos.db import MAX_INTEGER, OptionalRowId, RowId
from pos.inputs import Input

__all__ = [
    "MAX_STOCK_QUANTITY",
    "BatchOut",
    "CountLineOut",
    "CountOut",
    "CountScanIn",
    "LowStockOut",
    "MarkdownRuleIn",
    "MarkdownRuleOut",
    "MovementIn",
    "MovementOut",
    "ReceivingLineIn",
    "ReceivingLineOut",
    "ReceivingOut",
    "ReceivingScanIn",
    "ReceivingStartIn",
    "RestockLineIn",
    "RestockLineOut",
    "RestockOrderIn",
    "RestockOrderOut",
    "RestockStatus",
    "StockOut",
    "StockQuantity",
    "ThresholdIn",
    "ThresholdOut",
    "TransferIn",
    "UtcDatetime",
    "WriteOffIn",
]


EARLIEST_YEAR, LATEST_YEAR = 2000, 2100


def _utc(value: datetime) -> datetime:
    # Bounded well inside datetime's range, where the conversion cannot overflow, and so that a
    # supplier's year-9999 time cannot make every later update of it look stale forever.
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"the year must be {EARLIEST_YEAR} to {LATEST_YEAR}")
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_utc)]
"""A time with its offset, in the years 2000 to 2100, stored in UTC."""

MAX_STOCK_QUANTITY = MAX_INTEGER  # stock columns are INTEGERs

StockQuantity = Annotated[int, Le(MAX_STOCK_QUANTITY)]
"""Units of stock (pieces, or grams for kg products) that a stock column can hold."""

Reason = Annotated[str, Field(min_length=1, max_length=255, description="why, for the audit")]


class StockOut(BaseModel):
    """A store's stock of one product, in pieces or (for kg products) grams."""

    store_id: int
    product_id: int
    on_hand: int = Field(description="on the shelf, held units included")
    held: int = Field(description="held by unpaid orders")
    available: int = Field(
        description="what a new order can take: on_hand - held - what expired batches have left"
    )


class MovementOut(BaseModel):
    """One ledger entry: who, when, why and which paper."""

    id: int
    store_id: int
    product_id: int
    batch_id: int | None
    kind: str
    delta: int = Field(description="the change to the level")
    counted: int | None = Field(description="a count's counted units")
    applied: bool = Field(description="false: a later count already included it")
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    reason: str
    reference: str


class MovementIn(Input):
    """A stock change staff record; an offline tablet sends when it happened."""

    product_id: RowId
    kind: Literal["adjustment", "write_off", "return", "count"]
    quantity: StockQuantity = Field(
        ge=-MAX_STOCK_QUANTITY,
        description="adjustment: the signed change; write_off, return: units; count: units counted",
    )
    reason: Reason
    occurred_at: UtcDatetime | None = Field(default=None, description="default: now")
    batch_id: OptionalRowId = Field(default=None, description="a write-off's batch")


class TransferIn(Input):
    """Move units to another store."""

    to_store_id: RowId
    product_id: RowId
    quantity: StockQuantity = Field(gt=0)
    reason: Reason


class BatchOut(BaseModel):
    """A received lot and what is left of it."""

    id: int
    store_id: int
    product_id: int
    product_name: str
    lot: str
    produced_on: date | None
    expires_at: datetime | None
    received_qty: int
    remaining: int
    received_at: datetime
    reference: str
    expired: bool = Field(description="may not be sold: write it off")


class WriteOffIn(Input):
    reason: Reason


class MarkdownRuleIn(Input):
    """`percent` off while the batch sold first expires within `within_hours`, and why."""

    product_id: OptionalRowId = Field(default=None, description="none: every product of the store")
    within_hours: int = Field(ge=1, le=24 * 30)
    percent: int = Field(ge=1, le=90)
    reason: Annotated[
        str,
        StringConstraints(strip_whitespace=True, max_length=200),
        Field(description="why, for the audit: 1 to 200 characters once trimmed"),
    ]


class MarkdownRuleOut(MarkdownRuleIn):
    """A rule with who made it, when, and, once retired, who retired it and when."""

    id: int
    store_id: int
    created_by: str = Field(description="staff:3; unknown: made before this was recorded")
    created_at: datetime | None = Field(description="none: made before this was recorded")
    retired_by: str = Field(description="empty while it applies")
    retired_at: datetime | None = Field(description="none: it applies")


class ThresholdIn(Input):
    """Alert below `min_level`; restock up to `target_level`."""

    min_level: StockQuantity = Field(ge=0)
    target_level: StockQuantity = Field(ge=1)

    @model_validator(mode="after")
    def _target_above_min(self) -> ThresholdIn:
        if self.target_level < self.min_level:
            raise ValueError("target_level must not be below min_level")
        return self


class ThresholdOut(ThresholdIn):
    store_id: int
    product_id: int


class LowStockOut(BaseModel):
    """A product below its threshold, with a suggested restock quantity."""

    product_id: int
    product_name: str
    supplier_id: int
    on_hand: int
    available: int
    min_level: int
    target_level: int
    sold_last_days: int = Field(description="units sold in the look-back window")
    supplier_available: int | None = Field(description="what the supplier last said it has")
    on_order: int = Field(description="ordered from the supplier and not received yet")
    suggested: int = Field(description="units to order, beyond what is on order")


class RestockLineIn(Input):
    product_id: RowId
    quantity: StockQuantity = Field(gt=0)


class RestockOrderIn(Input):
    """Lines to order; they are grouped into one order per supplier."""

    lines: list[RestockLineIn] = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _one_line_per_product(self) -> RestockOrderIn:
        seen: set[int] = set()
        for line in self.lines:
            if line.product_id in seen:
                raise ValueError(f"product {line.product_id} is on more than one line")
            seen.add(line.product_id)
        return self


RestockStatus = Literal[
    "placed", "shipped", "partially_received", "received", "cancelled", "closed"
]
"""placed -> shipped (a notice ships it) -> partially_received / received; or cancelled while
placed; or closed short once shipped (what did not come will not)."""


class RestockLineOut(BaseModel):
    product_id: int
    quantity: int = Field(description="ordered")
    received: int = Field(description="confirmed by receivings of the order's shipment notices")


class RestockOrderOut(BaseModel):
    id: int
    store_id: int
    supplier_id: int
    status: RestockStatus
    created_by: str
    created_at: datetime
    cancelled_by: str
    cancelled_at: datetime | None
    closed_by: str
    closed_at: datetime | None
    lines: list[RestockLineOut]


class ReceivingStartIn(Input):
    notice_id: OptionalRowId = Field(default=None, description="a shipment notice; none: blank")


class ReceivingScanIn(Input):
    """An item scanned on receiving, with its batch facts."""

    product_id: OptionalRowId = None
    barcode: str | None = Field(default=None, max_length=14)
    quantity: StockQuantity = Field(default=1, gt=0, description="pieces, or grams for kg products")
    lot: str = Field(default="", max_length=40)
    produced_on: date | None = None
    expires_at: UtcDatetime | None = None


class ReceivingLineIn(Input):
    """The confirmed quantity of a line, why it differs from the notice, and its batch facts
    corrected (a date the supplier mistyped): a fact left out (or null) stays as it is."""

    quantity: StockQuantity = Field(ge=0)
    note: str = Field(default="", max_length=255)
    lot: str | None = Field(default=None, max_length=40, description="empty: the batch has none")
    produced_on: date | None = Field(default=None, description="corrected; it cannot be removed")
    expires_at: UtcDatetime | None = Field(
        default=None, description="corrected; it cannot be removed, so it is checked again"
    )


class ReceivingLineOut(BaseModel):
    id: int
    product_id: int
    product_name: str
    expected: int | None
    quantity: int
    lot: str
    produced_on: date | None
    expires_at: datetime | None
    note: str
    discrepancy: int = Field(description="received - expected (expected 0 when not on the notice)")
    scanned_by: str = Field(description="who last scanned or set it; empty: nobody yet")
    scanned_at: datetime | None


class ReceivingOut(BaseModel):
    id: int
    store_id: int
    notice_id: int | None
    status: Literal["open", "confirmed"]
    started_by: str
    started_at: datetime
    confirmed_by: str
    confirmed_at: datetime | None
    lines: list[ReceivingLineOut]


class CountScanIn(Input):
    """Units of a product counted (added to what the session has for it)."""

    product_id: OptionalRowId = None
    barcode: str | None = Field(default=None, max_length=14)
    quantity: StockQuantity = Field(default=1, ge=0)
    counted_at: UtcDatetime | None = Field(default=None, description="default: now")


class CountLineOut(BaseModel):
    product_id: int
    product_name: str
    counted: int
    counted_at: datetime
    expected: int = Field(description="the level at counted_at by the ledger")
    variance: int = Field(description="counted - expected")


class CountOut(BaseModel):
    """A count session and its variance report."""

    id: int
    store_id: int
    status: Literal["open", "finished"]
    started_by: str
    started_at: datetime
    finished_by: str
    finished_at: datetime | None
    lines: list[CountLineOut]
