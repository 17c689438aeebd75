"""Analytics tables: rollups kept from order events, buyer identity, ratings and their moderation.

The rollups are derived data: `pos analytics rebuild` recomputes them from the orders, and the
outbox handlers keep them equal to that recomputation as orders are paid and refunded.
Store, order and product ids in rollups are plain integers: facts outlive what they name.
"""

from __future__ import annotations

from piccolo.columns import (
    BigInt,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from pos.catalog.tables import Product
from pos.orders.tables import Order
from pos.stores.tables import Store

__all__ = [
    "Buyer",
    "BuyerCounty",
    "BuyerProduct",
    "Member",
    "PayerLink",
    "Purchase",
    "Rating",
    "RatingModeration",
    "SalesDay",
    "StoreRegion",
]


class Purchase(Table, tablename="analytics_purchase"):
    """A paid order that is not fully refunded, with its store-local day and its buyer's rank."""

    id: Serial
    order_id = Integer(unique=True)
    store_id = Integer()
    payer_hash = Varchar(length=64, null=True, default=None, index=True)
    buyer_id = Integer(null=True, default=None, index=True)
    paid_at = Timestamptz()
    day = Date(help_text="store-local day of the payment")
    week = Date(help_text="Monday of the store-local week")
    month = Date(help_text="first day of the store-local month")
    total_fen = Integer()
    refunded_fen = Integer()
    net_fen = Integer(help_text="total less refunds")
    certified_fen = Integer(help_text="certified lines' share of net_fen")
    products = Text(default="", help_text="product ids on the order, comma-separated")
    counties = Text(default="", help_text="origin county codes on the order, comma-separated")
    rank = Integer(default=0, help_text="the buyer's n-th purchase anywhere; 0 if anonymous")
    first_store_id = Integer(null=True, default=None, help_text="where the buyer first bought")
    first_day = Date(null=True, default=None)
    first_week = Date(null=True, default=None)
    first_month = Date(null=True, default=None)


class SalesDay(Table, tablename="analytics_sales_day"):
    """Net sales of one product at one store on one store-local day.

    One row per store, day, product, supplier and origin county (a unique index), so a refresh
    can add an order's share with INSERT ... ON CONFLICT.
    """

    id: Serial
    store_id = Integer()
    day = Date()
    product_id = Integer()
    supplier_id = Integer()
    county_code = Varchar(length=6, help_text="origin county, frozen at the sale")
    province_code = Varchar(length=2, help_text="first two digits of county_code")
    # Sums of a day's orders, each of which may hold up to an INTEGER.
    net_fen = BigInt()
    certified_fen = BigInt()
    quantity = BigInt(help_text="pieces")
    weight_g = BigInt(help_text="grams of products sold by weight")


class Buyer(Table, tablename="analytics_buyer"):
    """One buyer: a payer, or a member with every payer id they linked."""

    id: Serial
    key = Varchar(length=80, unique=True, help_text="payer:<hash> or member:<id>")
    first_store_id = Integer()
    first_at = Timestamptz()
    first_day = Date(index=True)
    first_week = Date()
    first_month = Date()
    second_days = Integer(null=True, default=None, help_text="local days to the 2nd purchase")
    purchases = Integer()
    net_fen = BigInt(help_text="of every purchase: more than one order holds")


class BuyerProduct(Table, tablename="analytics_buyer_product"):
    """A buyer's history with one product: where and when first bought, on how many orders."""

    id: Serial
    buyer_id = Integer(index=True)
    product_id = Integer()
    first_store_id = Integer()
    first_day = Date(index=True)
    orders = Integer()


class BuyerCounty(Table, tablename="analytics_buyer_county"):
    """A buyer's history with one origin county."""

    id: Serial
    buyer_id = Integer(index=True)
    county_code = Varchar(length=6)
    first_store_id = Integer()
    first_day = Date(index=True)
    orders = Integer()


class StoreRegion(Table, tablename="analytics_store_region"):
    """The province a store's buyers count for (east-west cooperation); unset is unknown."""

    id: Serial
    store_id = Integer(unique=True)
    province_code = Varchar(length=2)


class Member(Table, tablename="analytics_member"):
    """An opt-in member: known by an HMAC of the phone number, never the number."""

    id: Serial
    phone_hash = Varchar(length=64, unique=True, help_text="HMAC-SHA256(secret key, phone)")
    joined_at = Timestamptz(default=TimestamptzNow())


class PayerLink(Table, tablename="analytics_payer_link"):
    """A payer id hash a member linked: its purchases count as the member's."""

    id: Serial
    payer_hash = Varchar(length=64, unique=True)
    member = ForeignKey[Member](references=Member, null=False, index=True)
    linked_at = Timestamptz(default=TimestamptzNow())


class Rating(Table):
    """A buyer's stars and comment for one line of a paid order (one per line: unique index)."""

    id: Serial
    order = ForeignKey[Order](references=Order, null=False)
    line_no = Integer()
    product = ForeignKey[Product](references=Product, null=False, index=True)
    store = ForeignKey[Store](references=Store, null=False, index=True)
    stars = Integer(help_text="1 to 5")
    comment = Text(default="")
    hidden = Boolean(default=False, help_text="hidden by a manager")
    created_at = Timestamptz(default=TimestamptzNow())


class RatingModeration(Table):
    """Who hid or showed a rating, when and why."""

    id: Serial
    rating = ForeignKey[Rating](references=Rating, null=False, index=True)
    hidden = Boolean()
    actor = Varchar(length=64)
    reason = Varchar(length=255)
    at = Timestamptz(default=TimestamptzNow())
