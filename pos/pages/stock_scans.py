"""What a receiving or count scan on the tablet adds: the product its code means, and how much.

A barcode is looked up in the catalog (`pos.inventory.scans`). A store-scale label (EAN-13 with
prefix 20-29, which no product carries as its own GTIN) is read as the store's kiosks read it:
in the layout its scales print, its PLU by the store's PLU table. A weight label adds its grams.
A price label names the product but not its grams: what it weighed depends on the price it was
weighed at, so the restocker enters them, as for a weighed product scanned by its barcode.
The quantity typed is pieces, or grams for a product sold by the kg; left empty it is 1 piece.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pos.catalog import codes
from pos.errors import InvalidInput
from pos.inventory import scans
from pos.orders.products import list_priced
from pos.orders.schemas import LineIn
from pos.pages.forms import whole_number
from pos.stores import service as stores

__all__ = ["StockScan", "stock_scan"]


@dataclass(frozen=True, slots=True)
class StockScan:
    """A product and the units a scan adds: pieces, or grams for a product sold by the kg."""

    product_id: int
    units: int


async def stock_scan(store_id: int, form: Mapping[str, str]) -> StockScan:
    """The product the form's `code` means and the units it adds, by its `quantity` or label."""
    code = "".join(form.get("code", "").split())
    typed = form.get("quantity", "")
    units = whole_number(typed) if typed.strip() else None
    if not codes.is_in_store_number(code):
        product = await scans.scanned_product(store_id, None, code or None)
        return StockScan(product.id, _typed(units, weighed=product.unit == "kg"))
    product_id, grams = await _label(store_id, code)
    if grams is None:
        return StockScan(product_id, _typed(units, weighed=True))
    if units is not None:
        raise InvalidInput(
            f"the label {code} weighs {grams} g: leave the quantity empty", code="label_weighed"
        )
    return StockScan(product_id, grams)


def _typed(units: int | None, *, weighed: bool) -> int:
    if units is not None:
        return units
    if weighed:
        raise InvalidInput(
            "the product is sold by the kg: scan its weight label or enter its grams",
            code="grams_required",
        )
    return 1


async def _label(store_id: int, code: str) -> tuple[int, int | None]:
    """The product a scale label names, and its grams (None on a price label)."""
    rules = await stores.store_rules(store_id)
    sale = await list_priced(store_id, [LineIn(barcode=code)], rules)
    [line] = sale.order.lines
    return line.product.id, None if line.label_priced else line.weight_g
