"""Request and response models of the stores API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pos.catalog.barcodes import LabelScheme
from pos.db import MAX_INTEGER
from pos.inputs import Input

__all__ = [
    "CounterCatalog",
    "CounterIn",
    "CounterOut",
    "DeviceIn",
    "ListingIn",
    "PriceChangeOut",
    "PrinterIn",
    "SellableProduct",
    "StoreLayout",
]


class PriceChangeOut(BaseModel):
    """A price that changed: the catalog's, or the store's own (None: the catalog price)."""

    product_id: int
    product_name: str
    scope: Literal["catalog", "store"]
    old_price_fen: int | None
    new_price_fen: int | None
    changed_at: datetime
    changed_by: str = Field(description="staff:3, or cli:<account> for the command line")
    reason: str


class CounterOut(BaseModel):
    id: int
    code: str
    name_zh: str
    name_en: str
    store_id: int
    store_name_zh: str
    store_name_en: str
    time_zone: str


class SellableProduct(BaseModel):
    """A product as a counter sells it: its store's price and whether it is certified today."""

    product_id: int
    name_zh: str
    name_en: str
    name_initials: str
    unit: Literal["piece", "kg"]
    price_fen: int = Field(description="per piece or per kg, integer fen")
    certified: bool
    certificate_no: str
    origin_county_code: str
    origin_county_name: str
    supplier_id: int
    supplier_name: str
    gtin: str | None
    category: str
    image_url: str
    active: bool = Field(description="false only in `since` reads: the device drops it")


class CounterCatalog(BaseModel):
    counter: CounterOut
    revision: int = Field(
        description="pass as `since` to fetch only what changed after this: the catalog revision"
        " and the store day `certified` was decided for, in one opaque number"
    )
    items: list[SellableProduct]
    next_cursor: int | None = Field(description="pass as `cursor` for the next page")


class _LayoutPart(Input):
    """Part of a store layout file, which refuses unknown keys (and `true` for a number).

    A misspelt key would read as left out, and what a layout leaves out is withdrawn: `device`
    for `devices` would deactivate every device, `price` for `price_fen` drop the store price.
    """

    model_config = ConfigDict(extra="forbid")


class PrinterIn(_LayoutPart):
    name: str = Field(min_length=1, max_length=64)
    connection_url: str = Field(min_length=1, max_length=255)
    paper_width_mm: Literal[58, 80] = 80


class CounterIn(_LayoutPart):
    code: str = Field(min_length=1, max_length=32)
    name_zh: str = Field(max_length=128)
    name_en: str = Field(default="", max_length=128)
    printer: str | None = Field(default=None, description="name of one of the store's printers")


class DeviceIn(_LayoutPart):
    name: str = Field(min_length=1, max_length=64)
    kind: Literal["kiosk", "counter", "tablet"]
    counter: str | None = Field(default=None, description="code of the counter it stands at")
    printer: str | None = None


class ListingIn(_LayoutPart):
    certificate_no: str
    price_fen: int | None = Field(
        default=None, ge=1, le=MAX_INTEGER, description="store price; none: catalog"
    )
    plu: str | None = Field(
        default=None,
        pattern=r"^[0-9]{4,5}$",
        description="the PLU the store's scales print on the product's labels (4 or 5 digits)",
    )


class StoreLayout(_LayoutPart):
    """A store as an operator describes it in a file: `pos stores load FILE`."""

    code: str = Field(min_length=1, max_length=32)
    name_zh: str = Field(max_length=128)
    name_en: str = Field(default="", max_length=128)
    kind: Literal["subway_counter", "supermarket_zone"]
    city: str = Field(default="", max_length=64)
    address: str = Field(default="", max_length=255)
    time_zone: str | None = Field(
        default=None,
        max_length=64,
        description="IANA zone, e.g. Asia/Shanghai; none: a new store gets POS_TIME_ZONE, a"
        " store already there keeps its own",
    )
    merchant_id: str = Field(
        default="",
        max_length=40,
        pattern=r"^[!-~]*$",
        description="merchant id at the platform: visible ASCII, as its requests' headers carry it",
    )
    hold_minutes: int = Field(default=5, ge=1, le=120)
    label_scheme: LabelScheme = Field(
        default="weight_plu5",
        description="how the store's scales lay out their labels (prefixes 20-29): PLU 5 and"
        " grams 5; PLU 5 and price in fen 5; PLU 5, price check digit, price 4; or PLU 4,"
        " price check digit, price 5",
    )
    printers: list[PrinterIn] = []
    counters: list[CounterIn] = []
    devices: list[DeviceIn] = []
    listings: list[ListingIn] = []
