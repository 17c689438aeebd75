"""Inventory tables: levels, the movement ledger, batches, supplier stock, receiving and counts."""

from __future__ import annotations

from piccolo.columns import (
    Boolean,
    Date,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from pos.catalog.tables import Product, Supplier
from pos.stores.tables import Store

__all__ = [
    "CountLine",
    "CountSession",
    "MarkdownRule",
    "ReceivingLine",
    "ReceivingSession",
    "ReorderRule",
    "RestockOrder",
    "RestockOrderLine",
    "ScanKey",
    "ShipmentLine",
    "ShipmentNotice",
    "StockBatch",
    "StockLevel",
    "StockMovement",
    "SupplierFeed",
    "SupplierStock",
]

# The ledger outlives what it refers to: deleting a store or product must not delete history.
_KEEP = OnDelete.restrict


class StockLevel(Table):
    """A store's stock of one product: pieces, or grams for products sold by the kg."""

    id: Serial
    store = ForeignKey[Store](references=Store, null=False, index=True)
    product = ForeignKey[Product](references=Product, null=False, index=True)
    on_hand = Integer(default=0, help_text="on the shelf, held units included")
    held = Integer(default=0, help_text="held by unpaid orders; never more than on_hand")
    counted_at = Timestamptz(
        null=True, default=None, help_text="when the latest count happened; it includes all before"
    )
    updated_at = Timestamptz(help_text="the last change")


class StockBatch(Table):
    """A lot received at a store, with its dates and the units of it still there."""

    id: Serial
    store = ForeignKey[Store](references=Store, null=False, index=True, on_delete=_KEEP)
    product = ForeignKey[Product](references=Product, null=False, index=True, on_delete=_KEEP)
    lot = Varchar(length=40, default="", help_text="the supplier's lot or harvest number")
    produced_on = Date(null=True, default=None, help_text="production or harvest date")
    expires_at = Timestamptz(null=True, default=None, index=True, help_text="none: keeps")
    received_qty = Integer(help_text="units received into this batch")
    remaining = Integer(help_text="units of it still in stock; never negative")
    received_at = Timestamptz(default=TimestamptzNow())
    reference = Varchar(length=80, default="", help_text="e.g. receiving:12")


class StockMovement(Table):
    """One ledger entry; never updated or deleted."""

    id: Serial
    store = ForeignKey[Store](references=Store, null=False, index=True, on_delete=_KEEP)
    product = ForeignKey[Product](references=Product, null=False, index=True, on_delete=_KEEP)
    batch = ForeignKey[StockBatch](references=StockBatch, null=True, on_delete=_KEEP)
    kind = Varchar(length=12, help_text="receipt, sale, return, adjustment, write_off, ...")
    delta = Integer(help_text="the change to the level; for a count, what it changed")
    counted = Integer(null=True, default=None, help_text="a count's counted units")
    applied = Boolean(default=True, help_text="false: a later count already includes it")
    occurred_at = Timestamptz(help_text="when it happened (a tablet may report it late)")
    recorded_at = Timestamptz(default=TimestamptzNow())
    actor = Varchar(length=64, help_text="who: staff:5, order, supplier:3, system")
    reason = Varchar(length=255, default="")
    reference = Varchar(
        length=80, default="", index=True, help_text="order:12, receiving:3, count:4 ..."
    )
    idempotency_key = Varchar(
        length=160, null=True, default=None, unique=True, help_text="store-scoped retry key"
    )


class MarkdownRule(Table):
    """Shelf-life markdown: `percent` off a batch's units while it expires within the hours.

    Never deleted: retiring one stops it applying and keeps who made it, when and why. The
    defaults are what rules made before this was recorded say.
    """

    id: Serial
    store = ForeignKey[Store](references=Store, null=False, index=True)
    product = ForeignKey[Product](
        references=Product, null=True, default=None, help_text="none: every product"
    )
    within_hours = Integer(help_text="applies in the last this many hours before expiry")
    percent = Integer(help_text="1 to 90")
    reason = Varchar(length=200, default="recorded before reasons were kept")
    created_by = Varchar(length=64, default="unknown", help_text="staff:3")
    created_at = Timestamptz(null=True, default=None, help_text="none: before this was recorded")
    retired_by = Varchar(length=64, default="")
    retired_at = Timestamptz(null=True, default=None, help_text="none: it applies")


class ReorderRule(Table):
    """Replenishment thresholds of a product at a store."""

    id: Serial
    store = ForeignKey[Store](references=Store, null=False, index=True)
    product = ForeignKey[Product](references=Product, null=False)
    min_level = Integer(help_text="alert when available stock falls below this")
    target_level = Integer(help_text="restock up to this")


class SupplierStock(Table):
    """What a supplier says it can ship of a product, as of its own timestamp."""

    id: Serial
    supplier = ForeignKey[Supplier](references=Supplier, null=False, index=True)
    product = ForeignKey[Product](references=Product, null=False)
    available = Integer()
    supplier_updated_at = Timestamptz(help_text="the supplier's time; older updates are ignored")
    received_at = Timestamptz(default=TimestamptzNow())


class SupplierFeed(Table):
    """A supplier's stock feed that the server pulls on a schedule."""

    id: Serial
    supplier = ForeignKey[Supplier](references=Supplier, null=False, unique=True)
    url = Varchar(length=500)
    format = Varchar(length=4, help_text="json or csv")
    interval_minutes = Integer(default=60)
    last_pulled_at = Timestamptz(null=True, default=None)
    last_error = Text(default="", help_text="why the last pull was refused; empty when it worked")


class RestockOrder(Table):
    """An order for goods placed with a supplier for a store."""

    id: Serial
    store = ForeignKey[Store](references=Store, null=False, index=True)
    supplier = ForeignKey[Supplier](references=Supplier, null=False, index=True)
    status = Varchar(
        length=20,
        default="placed",
        help_text="placed, shipped, partially_received, received, cancelled or closed (short)",
    )
    created_by = Varchar(length=64)
    created_at = Timestamptz(default=TimestamptzNow())
    idempotency_key = Varchar(length=200, null=True, default=None, unique=True)
    cancelled_by = Varchar(length=64, default="")
    cancelled_at = Timestamptz(null=True, default=None)
    closed_by = Varchar(length=64, default="")
    closed_at = Timestamptz(null=True, default=None)


class RestockOrderLine(Table):
    id: Serial
    order = ForeignKey[RestockOrder](references=RestockOrder, null=False, index=True)
    product = ForeignKey[Product](references=Product, null=False)
    quantity = Integer(help_text="ordered")
    received = Integer(default=0, help_text="confirmed by receivings of the order's notices")


class ShipmentNotice(Table):
    """A supplier's notice of goods on the way to a store."""

    id: Serial
    supplier = ForeignKey[Supplier](references=Supplier, null=False, index=True)
    store = ForeignKey[Store](references=Store, null=False, index=True)
    reference = Varchar(length=64, help_text="the supplier's notice number")
    expected_at = Timestamptz(null=True, default=None)
    supplier_updated_at = Timestamptz(help_text="the supplier's time; older versions are ignored")
    status = Varchar(length=10, default="open", help_text="open or received")
    restock_order = ForeignKey[RestockOrder](
        references=RestockOrder,
        null=True,
        default=None,
        on_delete=_KEEP,
        help_text="the order it ships; none: not against an order",
    )


class ShipmentLine(Table):
    id: Serial
    notice = ForeignKey[ShipmentNotice](references=ShipmentNotice, null=False, index=True)
    product = ForeignKey[Product](references=Product, null=False)
    quantity = Integer()
    lot = Varchar(length=40, default="")
    produced_on = Date(null=True, default=None)
    expires_at = Timestamptz(null=True, default=None)


class ReceivingSession(Table):
    """Goods being received on a tablet, from a shipment notice or from scratch."""

    id: Serial
    store = ForeignKey[Store](references=Store, null=False, index=True)
    notice = ForeignKey[ShipmentNotice](references=ShipmentNotice, null=True, default=None)
    status = Varchar(length=10, default="open", help_text="open or confirmed")
    started_by = Varchar(length=64)
    started_at = Timestamptz(default=TimestamptzNow())
    confirmed_by = Varchar(length=64, default="")
    confirmed_at = Timestamptz(null=True, default=None)
    idempotency_key = Varchar(length=160, null=True, default=None, unique=True)


class ReceivingLine(Table):
    id: Serial
    session = ForeignKey[ReceivingSession](references=ReceivingSession, null=False, index=True)
    product = ForeignKey[Product](references=Product, null=False)
    expected = Integer(null=True, default=None, help_text="from the notice; none: not on it")
    quantity = Integer(default=0, help_text="received")
    lot = Varchar(length=40, default="")
    produced_on = Date(null=True, default=None)
    expires_at = Timestamptz(null=True, default=None)
    note = Varchar(length=255, default="", help_text="why it differs: damaged, missing ...")
    scanned_by = Varchar(
        length=64, default="", help_text="who last scanned or set it; empty: as the notice sent it"
    )
    scanned_at = Timestamptz(null=True, default=None, help_text="when it was last scanned or set")


class CountSession(Table):
    """A stock count at a store."""

    id: Serial
    store = ForeignKey[Store](references=Store, null=False, index=True)
    status = Varchar(length=10, default="open", help_text="open or finished")
    started_by = Varchar(length=64)
    started_at = Timestamptz(default=TimestamptzNow())
    finished_by = Varchar(length=64, default="")
    finished_at = Timestamptz(null=True, default=None)
    # UNIQUE through an index its migration made: SQLite cannot add a UNIQUE column.
    idempotency_key = Varchar(
        length=160, null=True, default=None, help_text="store-scoped retry key; unique"
    )


class CountLine(Table):
    id: Serial
    session = ForeignKey[CountSession](references=CountSession, null=False, index=True)
    product = ForeignKey[Product](references=Product, null=False)
    counted = Integer(default=0)
    counted_at = Timestamptz(help_text="when the last unit was scanned")
    expected = Integer(
        null=True, default=None, help_text="the ledger's level at counted_at, frozen at finish"
    )


class ScanKey(Table):
    """A receiving or count scan's Idempotency-Key: a retried scan finds it and adds nothing."""

    id: Serial
    key = Varchar(length=160, unique=True, help_text="receiving:<session>:<key>, count:...")
