"""What an order's lines refer to: scans resolved to products, the store's products loaded once.

A GTIN is looked up in the catalog and must be sold by the store; a variable-measure label is
read in the layout the store's scales print (`Store.label_scheme`, by default China's PLU 5 +
grams 5) and its PLU by the store's PLU table (`set_plu`). A weight label's weight is the line's
weight; a price label's amount is the line's amount, and the grams it buys at the list price are
what it takes from stock (see `pos.orders.pricing`).
Whether a product is certified is decided here, for the store's date, and again when the order
is paid (`orders.service.mark_paid`): the sale keeps the answer at payment. Frozen into the order
are the shelf-life markdowns and the units they cover, which inventory works out from the
batches a sale would take first and what other orders hold. A new order is marked down once it
holds its stock, in the same transaction (`mark_down`): its hold locks the stock rows first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from pos.catalog import service as catalog
from pos.catalog.barcodes import (
    LABEL_SCHEMES,
    ScannedCode,
    ScannedGtin,
    ScannedVariable,
    VariableMeasureScheme,
    normalize_plu,
    parse_barcode,
)
from pos.errors import InvalidInput
from pos.inventory import service as inventory
from pos.orders.pricing import (
    LineRequest,
    PricedOrder,
    PricedProduct,
    apply_markdowns,
    line_for_label,
    price_order,
)
from pos.orders.records import SupplierOf
from pos.orders.schemas import LineIn
from pos.orders.tables import Plu
from pos.stores import listings
from pos.stores.schemas import SellableProduct
from pos.stores.service import StoreRules

__all__ = ["PricedSale", "forget_plus", "list_priced", "mark_down", "price_lines", "set_plu"]


@dataclass(frozen=True, slots=True)
class PricedSale:
    """The priced order, each product's supplier for the lines, and the store's markdown rules."""

    order: PricedOrder
    suppliers: SupplierOf
    markdown_rules: tuple[inventory.Rule, ...]


@dataclass(frozen=True, slots=True)
class _Candidates:
    """Products each scanned code may mean, before the store's listings pick one."""

    by_gtin: dict[str, list[int]]
    by_plu: dict[str, int]


async def set_plu(store_id: int, plu: str, product_id: int) -> None:
    """Make the store's scale labels with `plu` (4 or 5 digits) mean `product_id`."""
    row = Plu(store=store_id, plu=normalize_plu(plu), product=product_id)
    await Plu.insert(row).on_conflict(
        target=(Plu.store, Plu.plu), action="DO UPDATE", values=[Plu.product]
    )


async def forget_plus(store_id: int, *, kept: Collection[str]) -> None:
    """Make the store's scale labels with a PLU not in `kept` mean nothing.

    A sale keeps the product a label meant, never the PLU, so no order loses its history.
    """
    stale = [Plu.store == store_id]
    if kept:
        stale.append(Plu.plu.not_in([normalize_plu(plu) for plu in kept]))
    await Plu.delete().where(*stale)


async def price_lines(store_id: int, lines: Sequence[LineIn], rules: StoreRules) -> PricedSale:
    """What the lines cost now, markdowns included, for a cart nothing is held for yet."""
    sale = await list_priced(store_id, lines, rules)
    return replace(sale, order=await mark_down(store_id, sale, held_here={}))


async def list_priced(store_id: int, lines: Sequence[LineIn], rules: StoreRules) -> PricedSale:
    """Resolve the lines, load their products once at the store's prices, and price them."""
    labels = (LABEL_SCHEMES[rules.label_scheme],)
    scans = [_scan(number, line, labels) for number, line in enumerate(lines, start=1)]
    candidates = await _candidates(store_id, scans)
    wanted = {line.product_id for line in lines if line.product_id is not None}
    wanted |= {pid for ids in candidates.by_gtin.values() for pid in ids}
    wanted |= set(candidates.by_plu.values())
    today = datetime.now(UTC).astimezone(ZoneInfo(rules.time_zone)).date()
    sold_here = await listings.sellable_products(store_id, wanted, today=today)
    requests = [
        _request(number, line, scan, candidates, sold_here)
        for number, (line, scan) in enumerate(zip(lines, scans, strict=True), start=1)
    ]
    products = {
        request.product_id: sold_here[request.product_id]
        for request in requests
        if request.product_id in sold_here
    }
    priced = {pid: _priced(product) for pid, product in products.items()}
    suppliers = {pid: (p.supplier_id, p.supplier_name) for pid, p in products.items()}
    markdown_rules = await inventory.markdown_rules(store_id)
    return PricedSale(price_order(requests, priced), suppliers, markdown_rules)


async def mark_down(store_id: int, sale: PricedSale, *, held_here: inventory.Units) -> PricedOrder:
    """The sale's order with the shelf-life markdowns of now.

    `held_here`: what the caller's transaction has just held for this order, its hold having
    locked the products' stock rows, so no other order is given the same marked-down units.
    """
    product_ids = {line.product.id for line in sale.order.lines}
    markdowns = await inventory.markdowns(
        store_id, sale.markdown_rules, product_ids, datetime.now(UTC), held_here=held_here
    )
    return apply_markdowns(sale.order, markdowns)


def _scan(number: int, line: LineIn, labels: Sequence[VariableMeasureScheme]) -> ScannedCode | None:
    if (line.product_id is None) == (line.barcode is None):
        raise InvalidInput(
            f"line {number}: send either a product_id or a barcode",
            code="line_product_or_barcode",
            line=number,
        )
    return None if line.barcode is None else parse_barcode(line.barcode, labels)


async def _candidates(store_id: int, scans: Sequence[ScannedCode | None]) -> _Candidates:
    gtins = sorted({scan.gtin for scan in scans if isinstance(scan, ScannedGtin)})
    plus = sorted({scan.plu for scan in scans if isinstance(scan, ScannedVariable)})
    found = await asyncio.gather(*(catalog.products_by_gtin(gtin) for gtin in gtins))
    by_gtin = {gtin: [p.id for p in products] for gtin, products in zip(gtins, found, strict=True)}
    rows = (
        await Plu.select(Plu.plu, Plu.product).where((Plu.store == store_id) & Plu.plu.is_in(plus))
        if plus
        else []
    )
    return _Candidates(by_gtin, {row["plu"]: row["product"] for row in rows})


def _request(
    number: int,
    line: LineIn,
    scan: ScannedCode | None,
    candidates: _Candidates,
    sold_here: Mapping[int, SellableProduct],
) -> LineRequest:
    if scan is None:
        assert line.product_id is not None  # _scan checked it
        return LineRequest(line.product_id, quantity=line.quantity, weight_g=line.weight_g)
    if isinstance(scan, ScannedGtin):
        listed = [
            sold_here[pid] for pid in candidates.by_gtin.get(scan.gtin, []) if pid in sold_here
        ]
        if not listed:
            raise _unknown(number, scan.gtin)
        # A renewed certificate may be a new product with the old one's barcode: sell that one.
        product = next((p for p in listed if p.certified), listed[0])
        quantity = 1 if line.quantity is None and line.weight_g is None else line.quantity
        return LineRequest(product.product_id, quantity=quantity, weight_g=line.weight_g)
    if line.quantity is not None or line.weight_g is not None:
        raise InvalidInput(
            f"line {number}: a scale label is one item of its own weight or price;"
            " send its barcode alone",
            code="line_label_measured",
            line=number,
        )
    product_id = candidates.by_plu.get(scan.plu)
    if product_id is None or product_id not in sold_here:
        raise _unknown(number, scan.code)
    return line_for_label(product_id, scan)


def _unknown(number: int, code: str) -> InvalidInput:
    return InvalidInput(
        f"line {number}: {code} is not a product sold here",
        code="barcode_unknown",
        line=number,
        scanned=code,
    )


def _priced(product: SellableProduct) -> PricedProduct:
    return PricedProduct(
        id=product.product_id,
        name_zh=product.name_zh,
        unit=product.unit,
        price_fen=product.price_fen,
        certified=product.certified,
        certificate_no=product.certificate_no,
        origin_county_code=product.origin_county_code,
        origin_county_name=product.origin_county_name,
    )
