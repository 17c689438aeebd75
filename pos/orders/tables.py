"""Order tables: orders, their lines frozen at sale, every state transition, scale PLUs."""

from __future__ import annotations

from piccolo.columns import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from pos.catalog.tables import Product, Supplier
from pos.stores.tables import Counter, Device, Store

__all__ = ["Order", "OrderLine", "OrderTransition", "Plu"]

# A sale outlives whatever it refers to: deleting a store or product must not delete sales.
_KEEP = OnDelete.restrict


class Order(Table, tablename="orders"):
    id: Serial
    number = Varchar(length=24, default="", index=True, help_text="shown to people")
    store = ForeignKey[Store](references=Store, null=False, index=True, on_delete=_KEEP)
    counter = ForeignKey[Counter](references=Counter, null=True, on_delete=_KEEP)
    device = ForeignKey[Device](
        references=Device, null=True, on_delete=_KEEP, help_text="a kiosk's"
    )
    state = Varchar(length=20, index=True, help_text="see pos.orders.states.OrderState")
    subtotal_fen = Integer()
    discount_fen = Integer()
    total_fen = Integer()
    refunded_fen = Integer(default=0)
    restocked = JSON(default="{}", help_text="product id -> units refunds put back on the shelf")
    access_token_hash = Varchar(length=64, help_text="sha256 of the shopper's access token")
    idempotency_scope_key = Varchar(
        length=200, unique=True, help_text="'<counter:id or device:id>:<Idempotency-Key>'"
    )
    request_hash = Varchar(length=64, help_text="sha256 of the request, to spot a reused key")
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz(help_text="the stock hold ends then unless paid")
    paid_at = Timestamptz(null=True, default=None)
    business_day = Date(
        null=True, default=None, help_text="paid_at's date in the store's zone, frozen at sale"
    )
    payment_method = Varchar(length=20, default="")
    payment_reference = Varchar(length=64, default="", help_text="the provider's payment id")
    payer_hash = Varchar(length=64, null=True, default=None, help_text="salted payer id hash")


class OrderLine(Table):
    """A line as sold: the product's facts are copied, never looked up again."""

    id: Serial
    order = ForeignKey[Order](references=Order, null=False, index=True, on_delete=_KEEP)
    line_no = Integer()
    product = ForeignKey[Product](references=Product, null=False, on_delete=_KEEP)
    name_zh = Varchar(length=128)
    unit = Varchar(length=5, help_text="piece or kg")
    quantity = Integer(null=True, default=None, help_text="pieces")
    weight_g = Integer(null=True, default=None, help_text="grams, for kg products")
    unit_price_fen = Integer(help_text="per piece or per kg")
    amount_fen = Integer()
    discount_fen = Integer()
    total_fen = Integer()
    refunded_fen = Integer(default=0, help_text="the fen of refunds paid back on this line")
    returned_units = Integer(
        default=0, help_text="pieces or grams refunds paid for (see pos.orders.refund_shares)"
    )
    certified = Boolean(help_text="certified at the moment of sale")
    certificate_no = Varchar(length=40)
    origin_county_code = Varchar(length=6)
    origin_county_name = Varchar(length=64)
    supplier = ForeignKey[Supplier](references=Supplier, null=False, on_delete=_KEEP)
    supplier_name = Varchar(length=128)


class OrderTransition(Table):
    id: Serial
    order = ForeignKey[Order](references=Order, null=False, index=True, on_delete=_KEEP)
    from_state = Varchar(length=20, default="", help_text="empty for the creation")
    to_state = Varchar(length=20)
    event = Varchar(length=30)
    at = Timestamptz(default=TimestamptzNow())
    actor = Varchar(length=64, default="", help_text="who: counter:1, device:2, worker ...")
    reason = Varchar(length=255, default="")


class Plu(Table):
    """Which product a store's scale labels mean by a PLU (variable-measure labels)."""

    id: Serial
    store = ForeignKey[Store](references=Store, null=False, index=True)
    plu = Varchar(length=5)
    product = ForeignKey[Product](references=Product, null=False)
