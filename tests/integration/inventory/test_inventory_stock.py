from __future__ import annotations

import asyncio
import sqlite3
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from pos.errors import Conflict
from pos.inventory import service as inventory
from pos.inventory.schemas import MAX_STOCK_QUANTITY
from pos.inventory.tables import (
    CountSession,
    MarkdownRule,
    ReceivingSession,
    ReorderRule,
    RestockOrder,
    StockLevel,
    StockMovement,
)
from tests.helpers.shop import open_shop
from tests.helpers.staff import login_as

pytestmark = pytest.mark.anyio


async def test_hold_takes_only_what_is_available(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(stock=5)
    await inventory.hold(shop.store_id, {product: 3})
    with pytest.raises(Conflict) as short:
        await inventory.hold(shop.store_id, {product: 3})
    assert short.value.code == "out_of_stock"
    assert short.value.extra["product_id"] == product
    level = await inventory.get_level(shop.store_id, product)
    assert (level.on_hand, level.held, level.available) == (5, 3, 2)


async def test_a_short_product_holds_nothing_of_the_others(db: str) -> None:
    shop = await open_shop()
    plenty, scarce = await shop.add(stock=10), await shop.add(stock=1)
    with pytest.raises(Conflict):
        await inventory.hold(shop.store_id, {plenty: 2, scarce: 2})
    assert (await inventory.get_level(shop.store_id, plenty)).held == 0


async def test_sale_and_release_move_held_stock(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(stock=10)
    await inventory.hold(shop.store_id, {product: 4})
    await inventory.commit_sale(shop.store_id, {product: 3}, reference="order:1")
    await inventory.release(shop.store_id, {product: 1})
    level = await inventory.get_level(shop.store_id, product)
    assert (level.on_hand, level.held) == (7, 0)
    await inventory.restock(
        shop.store_id, {product: 2}, actor="staff:1", why="", reference="order:1"
    )
    assert (await inventory.get_level(shop.store_id, product)).on_hand == 9


async def test_releasing_what_is_not_held_is_refused(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(stock=10)
    with pytest.raises(Conflict) as missing:
        await inventory.release(shop.store_id, {product: 1})
    assert missing.value.code == "hold_missing"


async def test_a_count_below_the_held_units_is_refused(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(stock=10)
    await inventory.hold(shop.store_id, {product: 6})
    with pytest.raises(Conflict) as below:
        await inventory.set_level(shop.store_id, product, 5)
    assert below.value.code == "stock_below_held"
    assert (await inventory.set_level(shop.store_id, product, 6)).available == 0


async def test_the_database_refuses_negative_stock_too(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(stock=1)
    with pytest.raises((sqlite3.IntegrityError, asyncpg.CheckViolationError)):
        await StockLevel.update({StockLevel.held: 2}).where(StockLevel.product == product)


async def test_100_racing_holds_of_one_unit_take_exactly_the_stock(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(stock=30)

    async def one() -> bool:
        try:
            await inventory.hold(shop.store_id, {product: 1})
        except Conflict:
            return False
        return True

    results = await asyncio.gather(*(one() for _ in range(100)))
    assert sum(results) == 30
    level = await inventory.get_level(shop.store_id, product)
    assert (level.on_hand, level.held) == (30, 30)


@pytest.mark.parametrize("quantity", [2**31, -(2**31), 10**20])
async def test_a_quantity_no_stock_column_can_hold_is_refused_naming_it(
    client: httpx.AsyncClient, quantity: int
) -> None:
    shop = await open_shop()
    product = await shop.add(stock=10)
    await login_as(client, "manager", shop.store_id)
    response = await client.post(
        f"/api/stores/{shop.store_id}/inventory/movements",
        json={"product_id": product, "kind": "adjustment", "quantity": quantity, "reason": "x"},
    )
    assert response.status_code == 400, response.text
    assert [error["key"] for error in response.json()["errors"]] == ["quantity"]
    assert (await inventory.get_level(shop.store_id, product)).on_hand == 10


async def test_an_adjustment_past_what_the_level_holds_gets_a_409_naming_it(
    client: httpx.AsyncClient,
) -> None:
    shop = await open_shop()
    product = await shop.add(stock=10)
    await login_as(client, "manager", shop.store_id)
    response = await client.post(
        f"/api/stores/{shop.store_id}/inventory/movements",
        json={
            "product_id": product,
            "kind": "adjustment",
            "quantity": MAX_STOCK_QUANTITY,
            "reason": "x",
        },
    )
    assert (response.status_code, response.json()["code"]) == (409, "stock_over_limit")
    assert (await inventory.get_level(shop.store_id, product)).on_hand == 10


NO_STORE = 999_999  # a store id in range that names no store


def _writes(product_id: int, to_store: int) -> dict[str, tuple[str, str, dict[str, Any] | None]]:
    base = f"/api/stores/{NO_STORE}/inventory"
    return {
        "markdown_rule": (
            "POST",
            f"{base}/markdown-rules",
            {"product_id": product_id, "within_hours": 5, "percent": 10, "reason": "near expiry"},
        ),
        "movement": (
            "POST",
            f"{base}/movements",
            {"product_id": product_id, "kind": "adjustment", "quantity": 1, "reason": "found"},
        ),
        "threshold": (
            "PUT",
            f"{base}/thresholds/{product_id}",
            {"min_level": 1, "target_level": 5},
        ),
        "transfer": (
            "POST",
            f"{base}/transfers",
            {"to_store_id": to_store, "product_id": product_id, "quantity": 1, "reason": "move"},
        ),
        "restock_order": (
            "POST",
            f"{base}/restock-orders",
            {"lines": [{"product_id": product_id, "quantity": 1}]},
        ),
        "count": ("POST", f"{base}/counts", None),
        "receiving": ("POST", f"{base}/receivings", {}),
    }


@pytest.mark.parametrize(
    "write",
    [
        "markdown_rule",
        "movement",
        "threshold",
        "transfer",
        "restock_order",
        "count",
        "receiving",
    ],
)
async def test_an_inventory_write_for_a_store_that_does_not_exist_is_404(
    client: httpx.AsyncClient, write: str
) -> None:
    # A head-office manager may act at any store id; one naming no store hit the store's
    # foreign key (500), or on SQLite a restock order was even placed for it.
    shop = await open_shop()
    product = await shop.add(stock=5)
    await login_as(client, "manager", None)
    method, url, body = _writes(product, shop.store_id)[write]

    response = await client.request(
        method, url, json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
    )

    assert response.status_code == 404, response.text
    assert response.json()["code"] == "store_not_found"
    for table in (
        MarkdownRule,
        StockLevel,
        StockMovement,
        ReorderRule,
        RestockOrder,
        CountSession,
        ReceivingSession,
    ):
        assert await table.count().where(table.store == NO_STORE) == 0, table.__name__
