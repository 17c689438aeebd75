"""Request and response models of the analytics and ratings API.

Money is integer fen; rates are shares between 0 and 1 (None when there is nothing to divide by).
Days, weeks and months are store-local.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pos.inputs import Input

__all__ = [
    "BucketOut",
    "BuyersOut",
    "CohortOut",
    "CohortsOut",
    "ComebackOut",
    "Dimension",
    "Grain",
    "MembershipIn",
    "MembershipOut",
    "ModerationIn",
    "ProductRatingOut",
    "PublicRatingOut",
    "PublicRatingsOut",
    "RatingIn",
    "RatingOut",
    "RatingsIn",
    "RegionRow",
    "RegionsOut",
    "RepeatBy",
    "RepeatOut",
    "RepeatRow",
    "SalesOut",
    "SalesRow",
    "ScopeOut",
    "StoreRegionIn",
    "StoreRegionOut",
]

Dimension = Literal["province", "county", "supplier", "product", "day"]
RepeatBy = Literal["product", "county"]
Grain = Literal["month", "week"]


class ScopeOut(BaseModel):
    """The stores and the store-local days (both ends included) a figure covers."""

    store_ids: list[int]
    date_from: date
    date_to: date


class SalesRow(BaseModel):
    key: str = Field(description="code or id of the province, county, supplier, product or day")
    name: str
    net_fen: int = Field(description="sales less refunds")
    certified_fen: int = Field(description="of which certified at the sale")
    quantity: int = Field(description="pieces")
    weight_g: int = Field(description="grams of products sold by weight")


class SalesOut(BaseModel):
    scope: ScopeOut
    by: Dimension
    net_fen: int
    certified_fen: int
    rows: list[SalesRow]


class BuyersOut(BaseModel):
    """First-time versus returning buyers, and how much of the money came back."""

    scope: ScopeOut
    orders: int = Field(description="paid orders not refunded in full")
    anonymous_orders: int = Field(description="orders without a payer id")
    buyers: int = Field(description="distinct buyers with an order")
    first_time_buyers: int = Field(description="buyers whose first purchase ever is in the period")
    returning_buyers: int = Field(description="buyers who had bought before the period")
    repeat_buyers: int = Field(description="buyers with a second or later purchase in the period")
    repeat_rate: float | None = Field(description="repeat_buyers / buyers")
    net_fen: int = Field(description="all sales less refunds, anonymous ones included")
    repeat_net_fen: int = Field(description="sales of second and later purchases")
    repeat_revenue_share: float | None = Field(description="repeat_net_fen / net_fen")
    anonymous_net_fen: int


class CohortOut(BaseModel):
    cohort: date = Field(description="first day of the month or Monday of the week")
    size: int = Field(description="buyers whose first purchase ever was then, at these stores")
    active: list[int] = Field(description="of them, buyers at these stores 0, 1, 2 ... later")
    retention: list[float | None] = Field(description="active / size")


class CohortsOut(BaseModel):
    scope: ScopeOut
    grain: Grain
    cohorts: list[CohortOut]


class BucketOut(BaseModel):
    days: str = Field(description="e.g. 8-30, or 181+")
    buyers: int


class ComebackOut(BaseModel):
    """Buyers who first bought in the period at these stores, and when they bought again."""

    scope: ScopeOut
    new_buyers: int
    came_back: int = Field(description="bought a second time, anywhere, so far")
    comeback_rate: float | None
    median_days: float | None = Field(description="store-local days to the second purchase")
    mean_days: float | None
    buckets: list[BucketOut]


class RepeatRow(BaseModel):
    key: str = Field(description="product id or county code")
    name: str
    buyers: int = Field(description="buyers who first bought it in the period, at these stores")
    repeat_buyers: int = Field(description="of them, bought it on another order too")
    repeat_rate: float | None


class RepeatOut(BaseModel):
    scope: ScopeOut
    by: RepeatBy
    rows: list[RepeatRow]


class RegionRow(BaseModel):
    buyer_region: str | None = Field(description="province code of the store's region; None: unset")
    buyer_region_name: str
    origin_province: str
    origin_province_name: str
    net_fen: int
    certified_fen: int


class RegionsOut(BaseModel):
    """Sales by where they were bought against where the goods come from."""

    scope: ScopeOut
    rows: list[RegionRow]
    unknown_region_net_fen: int = Field(description="sales at stores with no region set")


class StoreRegionIn(Input):
    province_code: str | None = Field(
        pattern=r"^\d{2}$", description="first two digits of the division code; null: unknown"
    )


class StoreRegionOut(BaseModel):
    store_id: int
    province_code: str | None


class RatingIn(Input):
    model_config = ConfigDict(extra="ignore")

    line_no: int = Field(ge=1)
    stars: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=500)


class RatingsIn(Input):
    """A buyer's ratings of the lines of one order; a line rated before may not change."""

    ratings: list[RatingIn] = Field(min_length=1, max_length=100)


class RatingOut(BaseModel):
    id: int
    order_id: int
    line_no: int
    product_id: int
    store_id: int
    stars: int
    comment: str
    hidden: bool
    created_at: datetime


class ModerationIn(Input):
    hidden: bool
    reason: str = Field(min_length=1, max_length=255)


class ProductRatingOut(BaseModel):
    product_id: int
    name: str
    ratings: int = Field(description="shown ratings")
    average_stars: float | None
    hidden: int = Field(description="ratings hidden by managers, not in the average")


class PublicRatingOut(BaseModel):
    stars: int
    comment: str
    created_at: datetime


class PublicRatingsOut(BaseModel):
    product_id: int
    ratings: int
    average_stars: float | None
    latest: list[PublicRatingOut]


class MembershipIn(Input):
    phone: str = Field(
        max_length=32, description="a mainland mobile number, kept only as a keyed hash"
    )


class MembershipOut(BaseModel):
    linked_payers: int = Field(description="payment accounts now counted as this member")
