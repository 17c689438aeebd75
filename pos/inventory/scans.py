"""What a tablet scanned: a product id, or a barcode looked up in the catalog.

A renewed certificate may be a new product with the old one's barcode. A shared barcode means
the product certified on the store's day (the rule a sale is certified by), else the one still
active; when that leaves more than one, or none, staff are asked to scan by product id.

A store-scale label (prefix 20-29) is no product's barcode: its PLU means a product only by the
store's PLU table, which the orders domain reads (inventory cannot import it). Such a scan is
refused, naming why; the tablet's stock pages read labels as the kiosks do.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from pos.catalog import service as catalog
from pos.catalog.codes import canonical_gtin, is_in_store_number
from pos.catalog.schemas import ProductOut
from pos.errors import Conflict, InvalidInput, NotFound
from pos.stores import service as stores

__all__ = ["scanned_product"]


async def scanned_product(store_id: int, product_id: int | None, barcode: str | None) -> ProductOut:
    """The product meant by exactly one of `product_id` and `barcode` at the store."""
    if (product_id is None) == (barcode is None):
        raise InvalidInput("send either a product_id or a barcode", code="scan_product_or_barcode")
    if product_id is not None:
        return await catalog.get_product(product_id)
    assert barcode is not None
    _refuse_scale_label(barcode)
    found = await catalog.products_by_gtin(barcode)
    if not found:
        raise NotFound(f"no product has the barcode {barcode}", code="barcode_unknown")
    if len(found) == 1:
        return found[0]
    return _meant(barcode, found, await _store_today(store_id))


def _refuse_scale_label(barcode: str) -> None:
    code = barcode.strip()
    if code.isascii() and code.isdigit() and is_in_store_number(canonical_gtin(code)):
        raise InvalidInput(
            f"{code} is a store scale label, not a product's barcode: scan it on the tablet's"
            " receiving or count page, or send the product id",
            code="barcode_scale_label",
            scanned=code,
        )


def _meant(barcode: str, found: Sequence[ProductOut], today: date) -> ProductOut:
    certified = [product for product in found if product.certified_on(today)]
    active = [product for product in found if product.status == "active"]
    preferred = certified or active
    if len(preferred) == 1:
        return preferred[0]
    ids = [product.id for product in found]
    raise Conflict(
        f"the barcode {barcode} belongs to products {', '.join(map(str, ids))}:"
        " scan the product by its product id",
        code="barcode_ambiguous",
        product_ids=ids,
    )


async def _store_today(store_id: int) -> date:
    rules = await stores.store_rules(store_id)
    return datetime.now(UTC).astimezone(ZoneInfo(rules.time_zone)).date()
