"""What suppliers send (pushes and feeds) and what they get back; feed settings."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, HttpUrl, UrlConstraints

from pos.db import OptionalRowId
from pos.inputs import Input
from pos.inventory.schemas import StockQuantity, UtcDatetime
from pos.inventory.signing import MAX_SKEW

__all__ = [
    "FeedIn",
    "FeedOut",
    "ShipmentLineIn",
    "ShipmentLineOut",
    "ShipmentNoticeIn",
    "ShipmentNoticeOut",
    "StockPushIn",
    "StockUpdateIn",
    "SyncResultOut",
]

MAX_UPDATES = 100_000

Certificate = Field(min_length=1, max_length=40, description="the product's certificate number")


def _not_ahead(value: datetime) -> datetime:
    # Newer times win: one from a clock set years ahead would make every later update of that
    # supplier look stale until then.
    if value > datetime.now(UTC) + MAX_SKEW:
        raise ValueError("the time is ahead of ours; check the supplier system's clock")
    return value


SupplierTime = Annotated[UtcDatetime, AfterValidator(_not_ahead)]
"""A supplier's clock reading: not later than ours (give or take the signatures' skew)."""


class StockUpdateIn(Input):
    """What the supplier can ship of one product, as of its own clock."""

    certificate_no: str = Certificate
    available: StockQuantity = Field(ge=0, description="pieces, or grams for kg products")
    updated_at: SupplierTime = Field(description="the supplier's time; older updates are ignored")


class StockPushIn(Input):
    updates: list[StockUpdateIn] = Field(min_length=1, max_length=MAX_UPDATES)


class SyncResultOut(BaseModel):
    """What a push or a feed did: updates newer than what we had were applied."""

    received: int
    applied: int
    stale: int = Field(description="not newer than what we had: ignored (a repeat, or late)")


class ShipmentLineIn(Input):
    certificate_no: str = Certificate
    quantity: StockQuantity = Field(gt=0)
    lot: str = Field(default="", max_length=40)
    produced_on: date | None = None
    expires_at: UtcDatetime | None = None


class ShipmentNoticeIn(Input):
    """Goods on the way to a store; a newer version (by `updated_at`) replaces an older one."""

    reference: str = Field(min_length=1, max_length=64, description="the notice number")
    store_code: str = Field(min_length=1, max_length=32)
    expected_at: UtcDatetime | None = None
    updated_at: SupplierTime
    restock_order_id: OptionalRowId = Field(
        default=None, description="the store's restock order it ships; fixed once sent"
    )
    lines: list[ShipmentLineIn] = Field(min_length=1, max_length=1000)


class ShipmentLineOut(BaseModel):
    product_id: int
    quantity: int
    lot: str
    produced_on: date | None
    expires_at: datetime | None


class ShipmentNoticeOut(BaseModel):
    id: int
    supplier_id: int
    store_id: int
    reference: str
    status: Literal["open", "received"]
    expected_at: datetime | None
    updated_at: datetime
    restock_order_id: int | None
    lines: list[ShipmentLineOut]
    stale: bool = Field(default=False, description="an older version than ours: ignored")


class FeedIn(Input):
    """Where the server pulls a supplier's stock feed from, and how often."""

    url: Annotated[HttpUrl, UrlConstraints(max_length=500)]  # the column's length
    format: Literal["json", "csv"]
    interval_minutes: int = Field(default=60, ge=1, le=24 * 60)


class FeedOut(BaseModel):
    supplier_id: int
    url: str
    format: Literal["json", "csv"]
    interval_minutes: int
    last_pulled_at: datetime | None
    last_error: str
