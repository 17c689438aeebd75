"""Catalog tables: places, suppliers and certified products."""

from __future__ import annotations

from piccolo.columns import (
    BigInt,
    Date,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table

__all__ = ["CatalogRevision", "County", "Product", "ProductPriceChange", "Province", "Supplier"]


class Province(Table):
    id: Serial
    code = Varchar(length=2, unique=True, help_text="first two digits of the administrative code")
    name_zh = Varchar(length=64)
    name_en = Varchar(length=64, default="")


class County(Table):
    id: Serial
    code = Varchar(length=6, unique=True, help_text="six-digit administrative division code")
    name_zh = Varchar(length=64)
    name_en = Varchar(length=64, default="")
    province = ForeignKey[Province](references=Province, null=False, index=True)


class Supplier(Table):
    id: Serial
    credit_code = Varchar(
        length=18, unique=True, help_text="unified social credit code (GB 32100-2015)"
    )
    name_zh = Varchar(length=128)
    name_en = Varchar(length=128, default="")
    county = ForeignKey[County](
        references=County, null=False, index=True, help_text="where it is based"
    )


class Product(Table):
    id: Serial
    certificate_no = Varchar(length=40, unique=True, help_text="the certificate; upsert key")
    scheme = Varchar(length=40, help_text="certification scheme, e.g. the national list")
    certifying_county = ForeignKey[County](references=County, null=False)
    valid_from = Date()
    valid_until = Date()
    status = Varchar(length=10, default="active", help_text="active, suspended or revoked")
    status_notice = Varchar(length=80, default="", help_text="public-notice reference")
    quality_labels = Varchar(length=120, default="", help_text="comma list: green, organic, gi")
    poverty_help = Text(default="", help_text="how the supplier helps poor households")
    origin_county = ForeignKey[County](references=County, null=False, index=True)
    supplier = ForeignKey[Supplier](references=Supplier, null=False, index=True)
    gtin = Varchar(length=14, null=True, default=None, index=True, help_text="EAN/UPC digits")
    unit = Varchar(length=5, default="piece", help_text="piece or kg")
    price_fen = Integer(help_text="per piece or per kg, integer fen")
    name_zh = Varchar(length=128)
    name_en = Varchar(length=128, default="")
    name_initials = Varchar(length=128, default="", help_text="pinyin initials for search")
    category = Varchar(length=40, default="")
    shelf_life_days = Integer(null=True, default=None)
    origin_text = Text(default="", help_text="origin story shown to shoppers")
    traceability = Text(default="", help_text="traceability chain text")
    image_url = Varchar(length=255, default="")
    revision = BigInt(
        default=0,
        index=True,
        index_method=IndexMethod.btree,
        help_text="catalog revision of the last change, for `since` reads",
    )
    updated_at = Timestamptz()


PRICE_CHANGE_REASON_CHARS = 255  # a reason names a file: clipped, as a path may be longer


class ProductPriceChange(Table):
    """A product's catalog price changed: from what to what, when, by whom and why."""

    id: Serial
    product = ForeignKey[Product](references=Product, null=False, index=True)
    old_price_fen = Integer()
    new_price_fen = Integer()
    changed_at = Timestamptz()
    changed_by = Varchar(length=64, help_text="staff:3, or cli:<account> for the command line")
    reason = Varchar(length=PRICE_CHANGE_REASON_CHARS, default="")


class CatalogRevision(Table):
    """One row: the catalog's revision, bumped by every change that devices must fetch."""

    id: Serial
    revision = BigInt(default=0)
