"""What a tablet scanned: a product id, or a barcode looked up in the catalog."""

from __future__ import annotations

from pos.catalog import service as catalog
from pos.catalog.schemas import ProductOut
from pos.errors import InvalidInput, NotFound

__all__ = ["scanned_product"]


async def scanned_product(product_id: int | None, barcode: str | None) -> ProductOut:
    """The product meant by exactly one of `product_id` and `barcode`."""
    if (product_id is None) == (barcode is None):
        raise InvalidInput("send either a product_id or a barcode", code="scan_product_or_barcode")
    if product_id is not None:
        return await catalog.get_product(product_id)
    assert barcode is not None
    found = await catalog.products_by_gtin(barcode)
    if not found:
        raise NotFound(f"no product has the barcode {barcode}", code="barcode_unknown")
    return found[0]
