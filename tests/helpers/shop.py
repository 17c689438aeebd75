"""A small shop for order tests: a store with a counter, listed products and their stock.

Use with the `db` or `client` fixture: it writes rows of the bound database directly.

    shop = await open_shop()
    noodles = await shop.add("piece", price_fen=1250, stock=10)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pos.catalog.barcodes import gtin_check_digit
from pos.catalog.tables import County, Product
from pos.inventory import service as inventory
from pos.inventory import shelf_life
from pos.inventory.schemas import MarkdownRuleIn, MarkdownRuleOut
from pos.inventory.tables import StockBatch
from pos.orders import checkout
from pos.orders.schemas import CounterOrderIn
from pos.orders.tokens import counter_qr_token
from pos.settings import DEMO_SECRET
from pos.stores.tables import Listing
from tests.helpers.staff import add_counter, add_store, add_supplier

__all__ = ["SECRET", "Shop", "make_gtin", "open_shop", "weight_label"]

SECRET = DEMO_SECRET


def make_gtin() -> str:
    """A fresh, valid EAN-13 (prefix 69, China)."""
    body = f"69{uuid.uuid4().int % 10**10:010d}"
    return body + str(gtin_check_digit(body))


def weight_label(plu: str, grams: int) -> str:
    """A Chinese scale's weight label: prefix 21, PLU 5 digits, grams 5 digits, check digit."""
    body = f"21{plu:0>5}{grams:05d}"
    return body + str(gtin_check_digit(body))


@dataclass
class Shop:
    store_id: int
    counter_id: int
    supplier_id: int
    county_id: int

    async def add(
        self,
        unit: str = "piece",
        *,
        price_fen: int = 1000,
        listing_price_fen: int | None = None,
        stock: int = 100,
        gtin: str | None = None,
        certified: bool = True,
    ) -> int:
        """A catalog product listed here with `stock` units (grams for kg); returns its id."""
        today = date.today()
        product = Product(
            certificate_no=f"T{uuid.uuid4().hex[:12]}",
            scheme="test",
            certifying_county=self.county_id,
            valid_from=today - timedelta(days=30),
            valid_until=today + timedelta(days=30 if certified else -2),
            status="active",
            origin_county=self.county_id,
            supplier=self.supplier_id,
            gtin=gtin,
            unit=unit,
            price_fen=price_fen,
            name_zh=f"测试商品{uuid.uuid4().hex[:4]}",
            updated_at=datetime.now(UTC),
        )
        product_id = int((await Product.insert(product).returning(Product.id))[0]["id"])
        listing = Listing(store=self.store_id, product=product_id, price_fen=listing_price_fen)
        await Listing.insert(listing)
        await inventory.set_level(self.store_id, product_id, stock)
        return product_id

    async def mark_down(self, product_id: int, units: int, percent: int) -> None:
        """`units` of the product in a batch expiring in 10 h, marked down `percent` within 24 h."""
        await self.add_near_expiry_batch(product_id, units)
        await self.add_markdown_rule(within_hours=24, percent=percent)

    async def add_near_expiry_batch(self, product_id: int, units: int) -> None:
        """`units` of the product in a batch expiring in 10 h; `add` sets its level."""
        soon = datetime.now(UTC) + timedelta(hours=10)
        batch = StockBatch(
            store=self.store_id,
            product=product_id,
            received_qty=units,
            remaining=units,
            expires_at=soon,
        )
        await StockBatch.insert(batch)

    async def add_markdown_rule(self, within_hours: int, percent: int) -> MarkdownRuleOut:
        """A markdown rule for every product of the shop, made by staff:1."""
        rule = MarkdownRuleIn(within_hours=within_hours, percent=percent, reason="near expiry")
        return await shelf_life.add_rule(self.store_id, rule, actor="staff:1")

    def order_in(self, *lines: dict[str, Any]) -> CounterOrderIn:
        """A phone's order at the shop's counter, with the counter's QR token."""
        token = counter_qr_token(self.counter_id, secret=SECRET)
        return CounterOrderIn.model_validate({"counter_token": token, "lines": list(lines)})

    async def order(self, *lines: dict[str, Any], key: str | None = None) -> checkout.CreatedOrder:
        """Create an order at the counter through the service."""
        return await checkout.create_counter_order(
            self.counter_id,
            self.order_in(*lines),
            idempotency_key=key or uuid.uuid4().hex,
            secret=SECRET,
        )


async def open_shop() -> Shop:
    """A new store with one counter and a supplier."""
    store_id = await add_store()
    counter_id = await add_counter(store_id)
    supplier_id = await add_supplier()
    county = await County.select(County.id).where(County.code == "990001").first()
    assert county is not None
    return Shop(store_id, counter_id, supplier_id, int(county["id"]))
