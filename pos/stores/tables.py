"""Store tables: where products are sold and with which devices and printers."""

from __future__ import annotations

from piccolo.columns import BigInt, Boolean, ForeignKey, Integer, Serial, Timestamptz, Varchar
from piccolo.table import Table

from pos.catalog.tables import PRICE_CHANGE_REASON_CHARS, Product

__all__ = ["Counter", "Device", "Listing", "ListingPriceChange", "Printer", "Store"]


class Store(Table):
    id: Serial
    code = Varchar(length=32, unique=True)
    name_zh = Varchar(length=128)
    name_en = Varchar(length=128, default="")
    kind = Varchar(length=20, help_text="subway_counter or supermarket_zone")
    city = Varchar(length=64, default="")
    address = Varchar(length=255, default="")
    time_zone = Varchar(length=64, default="Asia/Shanghai")
    merchant_id = Varchar(length=40, default="", help_text="merchant id at the platform")
    hold_minutes = Integer(default=5, help_text="how long an unpaid order holds stock")
    label_scheme = Varchar(
        length=20,
        default="weight_plu5",
        help_text="how its scales lay out labels: weight_plu5 (default), price_plu5,"
        " price_plu5_check or price_plu4_check",
    )


class Printer(Table):
    id: Serial
    store = ForeignKey[Store](references=Store, null=False, index=True)
    name = Varchar(length=64)
    connection_url = Varchar(
        length=255, help_text="tcp://host:9100, usb://vid:pid, serial:///dev/x, file:///dev/x"
    )
    paper_width_mm = Integer(default=80, help_text="58 or 80")


class Counter(Table):
    id: Serial
    store = ForeignKey[Store](references=Store, null=False, index=True)
    code = Varchar(length=32, unique=True, help_text="printed under the counter's QR code")
    name_zh = Varchar(length=128)
    name_en = Varchar(length=128, default="")
    printer = ForeignKey[Printer](
        references=Printer, null=True, help_text="where its receipts print"
    )
    active = Boolean(default=True, help_text="false: left out of its store's layout")


class Device(Table):
    id: Serial
    store = ForeignKey[Store](references=Store, null=False, index=True)
    counter = ForeignKey[Counter](references=Counter, null=True)
    kind = Varchar(length=10, help_text="kiosk, counter or tablet")
    name = Varchar(length=64)
    printer = ForeignKey[Printer](references=Printer, null=True)
    active = Boolean(default=True)


class Listing(Table):
    """A product a store sells, optionally at its own price."""

    id: Serial
    store = ForeignKey[Store](references=Store, null=False, index=True)
    product = ForeignKey[Product](references=Product, null=False, index=True)
    price_fen = Integer(null=True, default=None, help_text="overrides the catalog price")
    active = Boolean(default=True)
    revision = BigInt(default=0, index=True, help_text="catalog revision of the last change")


class ListingPriceChange(Table):
    """A store's own price of a product changed (None: the catalog price), when, by whom, why."""

    id: Serial
    listing = ForeignKey[Listing](references=Listing, null=False, index=True)
    old_price_fen = Integer(null=True, default=None)
    new_price_fen = Integer(null=True, default=None)
    changed_at = Timestamptz()
    changed_by = Varchar(length=64, help_text="staff:3, or cli:<account> for the command line")
    reason = Varchar(length=PRICE_CHANGE_REASON_CHARS, default="")
