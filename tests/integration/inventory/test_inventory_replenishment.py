from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import anyio
import httpx
import pytest

from pos.errors import Conflict
from pos.inventory import ledger, notices, receiving, replenishment
from pos.inventory import service as inventory
from pos.inventory.ledger import Entry
from pos.inventory.schemas import (
    MAX_STOCK_QUANTITY,
    ReceivingScanIn,
    ReceivingStartIn,
    RestockOrderIn,
    RestockOrderOut,
    ThresholdIn,
)
from pos.inventory.supplier_sync import apply_updates
from pos.inventory.sync_schemas import StockUpdateIn
from pos.inventory.tables import ShipmentNotice, StockBatch
from pos.orders import service as orders
from tests.helpers.locks import done_or_waiting_for_a_lock
from tests.helpers.shop import Shop, open_shop
from tests.helpers.staff import login_as

from .conftest import (
    SupplierClient,
    certificate_of,
    store_code,
    supplier_client,
)

pytestmark = pytest.mark.anyio


async def test_low_stock_suggests_from_sales_and_the_suppliers_stock(db: str) -> None:
    shop = await open_shop()
    low, fine = await shop.add(stock=20), await shop.add(stock=50)
    await replenishment.set_threshold(
        shop.store_id, low, ThresholdIn(min_level=10, target_level=30)
    )
    await replenishment.set_threshold(
        shop.store_id, fine, ThresholdIn(min_level=10, target_level=30)
    )
    created = await shop.order({"product_id": low, "quantity": 14})
    await orders.mark_paid(
        created.order.id,
        amount_fen=created.order.total_fen,
        method="sandbox",
        reference="p1",
        payer_hash=None,
        paid_at=datetime.now(UTC),
    )
    [alert] = await replenishment.low_stock(shop.store_id)
    assert (alert.product_id, alert.available, alert.sold_last_days) == (low, 6, 14)
    assert alert.supplier_available is None
    assert alert.suggested == 24
    update = StockUpdateIn(
        certificate_no=await certificate_of(low), available=15, updated_at=datetime.now(UTC)
    )
    await apply_updates(shop.supplier_id, [update])
    [capped] = await replenishment.low_stock(shop.store_id)
    assert (capped.supplier_available, capped.suggested) == (15, 15)


async def test_low_stock_does_not_count_expired_units_as_available(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(stock=0)
    session = await receiving.start(
        shop.store_id, ReceivingStartIn(), actor="staff:1", idempotency_key=None
    )
    expiry = datetime.now(UTC) + timedelta(hours=1)
    scan = ReceivingScanIn(product_id=product, quantity=10, expires_at=expiry)
    await receiving.scan(shop.store_id, session.id, scan, actor="staff:1", idempotency_key=None)
    await receiving.confirm(shop.store_id, session.id, actor="staff:1")
    expired = datetime.now(UTC) - timedelta(hours=1)
    await StockBatch.update({StockBatch.expires_at: expired}).where(StockBatch.product == product)
    await replenishment.set_threshold(
        shop.store_id, product, ThresholdIn(min_level=5, target_level=20)
    )
    with pytest.raises(Conflict) as refused:  # none of the 10 can be sold
        await inventory.hold(shop.store_id, {product: 1})
    assert refused.value.code == "batch_expired"
    alerts = await replenishment.low_stock(shop.store_id)
    assert [(a.product_id, a.available, a.suggested) for a in alerts] == [(product, 0, 20)]
    assert (await inventory.get_level(shop.store_id, product)).available == 0


async def test_restock_orders_are_placed_once_per_key_and_per_supplier(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(stock=1)
    lines = RestockOrderIn.model_validate({"lines": [{"product_id": product, "quantity": 24}]})
    placed = await replenishment.place_orders(
        shop.store_id, lines, actor="staff:1", idempotency_key="ro-1"
    )
    again = await replenishment.place_orders(
        shop.store_id, lines, actor="staff:1", idempotency_key="ro-1"
    )
    assert placed == again
    assert [(o.supplier_id, o.lines[0].quantity) for o in placed] == [(shop.supplier_id, 24)]
    assert await replenishment.restock_orders(supplier_id=shop.supplier_id) == placed


async def _place(shop: Shop, units: dict[int, int]) -> RestockOrderOut:
    lines = [{"product_id": product, "quantity": quantity} for product, quantity in units.items()]
    data = RestockOrderIn.model_validate({"lines": lines})
    [order] = await replenishment.place_orders(
        shop.store_id, data, actor="staff:1", idempotency_key=None
    )
    return order


async def _ship(
    supplier: SupplierClient,
    client: httpx.AsyncClient,
    store_id: int,
    units: dict[int, int],
    *,
    order_id: int | None,
    reference: str = "ASN-1",
    updated_at: str = "2026-06-01T08:00:00+08:00",
) -> httpx.Response:
    """Push a shipment notice of `units` for the store against the restock order."""
    lines = [
        {"certificate_no": await certificate_of(product), "quantity": quantity}
        for product, quantity in units.items()
    ]
    notice = {
        "reference": reference,
        "store_code": await store_code(store_id),
        "updated_at": updated_at,
        "restock_order_id": order_id,
        "lines": lines,
    }
    return await supplier.post(client, "/shipments", notice)


async def _scanned(store_id: int, notice_id: int, units: dict[int, int]) -> int:
    """A receiving of the notice with `units` of it scanned: its id."""
    session = await receiving.start(
        store_id, ReceivingStartIn(notice_id=notice_id), actor="staff:2", idempotency_key=None
    )
    for product, quantity in units.items():
        scan = ReceivingScanIn(product_id=product, quantity=quantity)
        await receiving.scan(store_id, session.id, scan, actor="staff:1", idempotency_key=None)
    return session.id


async def _receive(store_id: int, notice_id: int, units: dict[int, int]) -> None:
    """Receive the notice on a tablet, confirming `units` of it."""
    session_id = await _scanned(store_id, notice_id, units)
    await receiving.confirm(store_id, session_id, actor="staff:2")


async def _order(order: RestockOrderOut) -> RestockOrderOut:
    [found] = [
        o for o in await replenishment.restock_orders(store_id=order.store_id) if o.id == order.id
    ]
    return found


def _received(order: RestockOrderOut) -> tuple[str, list[tuple[int, int]]]:
    return order.status, [(line.quantity, line.received) for line in order.lines]


async def test_a_restock_order_is_shipped_then_received_as_its_notices_are(
    client: httpx.AsyncClient,
) -> None:
    shop = await open_shop()
    noodles, oranges = await shop.add(stock=0), await shop.add(stock=0)
    supplier = await supplier_client(shop.supplier_id)
    order = await _place(shop, {noodles: 10, oranges: 6})
    first = await _ship(
        supplier, client, shop.store_id, {noodles: 10, oranges: 3}, order_id=order.id
    )
    assert first.status_code == 200, first.text
    assert first.json()["restock_order_id"] == order.id
    assert _received(await _order(order)) == ("shipped", [(10, 0), (6, 0)])

    await _receive(shop.store_id, first.json()["id"], {noodles: 10, oranges: 3})
    assert _received(await _order(order)) == ("partially_received", [(10, 10), (6, 3)])
    second = await _ship(
        supplier, client, shop.store_id, {oranges: 3}, order_id=order.id, reference="ASN-2"
    )
    assert _received(await _order(order)) == ("partially_received", [(10, 10), (6, 3)])
    await _receive(shop.store_id, second.json()["id"], {oranges: 3})

    listed = await client.get(
        f"/api/suppliers/{shop.supplier_id}/restock-orders",
        headers={"X-Api-Key": supplier.api_key},
    )
    [seen] = listed.json()
    assert seen["status"] == "received"
    assert seen["lines"] == [
        {"product_id": noodles, "quantity": 10, "received": 10},
        {"product_id": oranges, "quantity": 6, "received": 6},
    ]


async def test_an_order_line_counts_received_units_up_to_an_integer_and_no_further(
    client: httpx.AsyncClient,
) -> None:
    shop = await open_shop()
    product = await shop.add("kg", stock=0)
    supplier = await supplier_client(shop.supplier_id)
    order = await _place(shop, {product: 1000})
    for reference in ("ASN-1", "ASN-2"):  # each a shelf's worth, sold off in between
        shipped = await _ship(
            supplier,
            client,
            shop.store_id,
            {product: MAX_STOCK_QUANTITY},
            order_id=order.id,
            reference=reference,
        )
        await _receive(shop.store_id, shipped.json()["id"], {product: MAX_STOCK_QUANTITY})
        await ledger.count(shop.store_id, product, 0, Entry("staff:2", reason="sold off"))
    assert _received(await _order(order)) == ("received", [(1000, MAX_STOCK_QUANTITY)])


async def test_receiving_more_of_an_order_than_a_level_holds_is_refused_posting_nothing(
    client: httpx.AsyncClient,
) -> None:
    shop = await open_shop()
    product = await shop.add("kg", stock=0)
    supplier = await supplier_client(shop.supplier_id)
    order = await _place(shop, {product: 1000})
    shipped = await _ship(supplier, client, shop.store_id, {product: 1000}, order_id=order.id)
    session_id = await _scanned(shop.store_id, shipped.json()["id"], {})
    half = MAX_STOCK_QUANTITY // 2 + 1  # two lots of it are one unit past an INTEGER
    for lot in ("A", "B"):  # a line per lot, each within what a line holds
        scan = ReceivingScanIn(product_id=product, quantity=half, lot=lot)
        await receiving.scan(shop.store_id, session_id, scan, actor="staff:1", idempotency_key=None)
    with pytest.raises(Conflict) as refused:
        await receiving.confirm(shop.store_id, session_id, actor="staff:2")
    assert refused.value.code == "stock_over_limit"
    assert (await receiving.get_receiving(shop.store_id, session_id)).status == "open"
    assert [notice.id for notice in await notices.store_notices(shop.store_id)] == [
        shipped.json()["id"]
    ]
    assert _received(await _order(order)) == ("shipped", [(1000, 0)])


async def test_a_notice_for_another_suppliers_or_stores_order_is_refused_whole(
    client: httpx.AsyncClient,
) -> None:
    shop, other = await open_shop(), await open_shop()
    noodles, theirs = await shop.add(stock=0), await other.add(stock=0)
    order = await _place(shop, {noodles: 10})
    stranger = await supplier_client(other.supplier_id)
    not_theirs = await _ship(stranger, client, shop.store_id, {theirs: 1}, order_id=order.id)
    supplier = await supplier_client(shop.supplier_id)
    elsewhere = await _ship(supplier, client, other.store_id, {noodles: 10}, order_id=order.id)
    unknown = await _ship(supplier, client, shop.store_id, {noodles: 10}, order_id=order.id + 99)
    for refused in (not_theirs, elsewhere, unknown):
        assert (refused.status_code, refused.json()["code"]) == (422, "supplier_update_invalid")
        assert refused.json()["errors"][0]["line"] == 0
        assert "restock_order_id" in refused.json()["errors"][0]["reason"]
    assert await ShipmentNotice.count() == 0
    assert (await _order(order)).status == "placed"


async def test_a_notice_keeps_the_restock_order_it_was_sent_for(client: httpx.AsyncClient) -> None:
    shop = await open_shop()
    noodles = await shop.add(stock=0)
    supplier = await supplier_client(shop.supplier_id)
    first, second = await _place(shop, {noodles: 10}), await _place(shop, {noodles: 5})
    await _ship(supplier, client, shop.store_id, {noodles: 10}, order_id=first.id)
    moved = await _ship(
        supplier,
        client,
        shop.store_id,
        {noodles: 5},
        order_id=second.id,
        updated_at="2026-06-01T09:00:00+08:00",
    )
    assert (moved.status_code, moved.json()["code"]) == (409, "notice_order_changed")
    [notice] = await notices.store_notices(shop.store_id)
    assert (notice.restock_order_id, notice.lines[0].quantity) == (first.id, 10)
    assert (await _order(second)).status == "placed"


async def test_a_manager_cancels_a_placed_order_but_not_a_shipped_one(
    client: httpx.AsyncClient,
) -> None:
    shop = await open_shop()
    noodles = await shop.add(stock=0)
    supplier = await supplier_client(shop.supplier_id)
    placed, shipped = await _place(shop, {noodles: 10}), await _place(shop, {noodles: 5})
    await _ship(supplier, client, shop.store_id, {noodles: 5}, order_id=shipped.id)
    manager = await login_as(client, "manager", shop.store_id)
    base = f"/api/stores/{shop.store_id}/inventory/restock-orders"

    cancelled = await client.post(f"{base}/{placed.id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["cancelled_by"] == f"staff:{manager.user_id}"
    assert (await client.post(f"{base}/{placed.id}/cancel")).json() == cancelled.json()
    too_late = await client.post(f"{base}/{shipped.id}/cancel")
    assert (too_late.status_code, too_late.json()["code"]) == (409, "restock_order_not_cancellable")
    elsewhere = await client.post(
        f"/api/stores/{(await open_shop()).store_id}/inventory/restock-orders/{placed.id}/cancel"
    )
    assert elsewhere.status_code == 403  # the manager has no role there
    missing = await client.post(f"{base}/{shipped.id + 99}/cancel")
    assert (missing.status_code, missing.json()["code"]) == (404, "restock_order_not_found")

    refused = await _ship(
        supplier, client, shop.store_id, {noodles: 10}, order_id=placed.id, reference="ASN-2"
    )
    assert (refused.status_code, refused.json()["code"]) == (409, "restock_order_cancelled")
    assert [n.reference for n in await notices.store_notices(shop.store_id)] == ["ASN-1"]
    assert (await _order(shipped)).status == "shipped"


async def test_low_stock_counts_what_is_on_order_and_not_yet_received(
    client: httpx.AsyncClient,
) -> None:
    shop = await open_shop()
    product = await shop.add(stock=5)
    supplier = await supplier_client(shop.supplier_id)
    await replenishment.set_threshold(
        shop.store_id, product, ThresholdIn(min_level=40, target_level=50)
    )
    order = await _place(shop, {product: 30})
    cancelled = await _place(shop, {product: 8})
    await replenishment.cancel_order(shop.store_id, cancelled.id, actor="staff:1")
    [alert] = await replenishment.low_stock(shop.store_id)
    assert (alert.on_order, alert.suggested) == (30, 15)

    shipped = await _ship(supplier, client, shop.store_id, {product: 30}, order_id=order.id)
    await _receive(shop.store_id, shipped.json()["id"], {product: 10})
    [alert] = await replenishment.low_stock(shop.store_id)
    assert (alert.available, alert.on_order, alert.suggested) == (15, 20, 15)


async def test_a_manager_closes_a_short_shipment_and_its_rest_is_no_longer_on_order(
    client: httpx.AsyncClient,
) -> None:
    shop = await open_shop()
    product = await shop.add(stock=5)
    await replenishment.set_threshold(
        shop.store_id, product, ThresholdIn(min_level=40, target_level=50)
    )
    supplier = await supplier_client(shop.supplier_id)
    order, placed = await _place(shop, {product: 30}), await _place(shop, {product: 4})
    first = await _ship(supplier, client, shop.store_id, {product: 10}, order_id=order.id)
    await _receive(shop.store_id, first.json()["id"], {product: 10})
    late = await _ship(
        supplier, client, shop.store_id, {product: 5}, order_id=order.id, reference="ASN-2"
    )
    manager = await login_as(client, "manager", shop.store_id)
    base = f"/api/stores/{shop.store_id}/inventory/restock-orders"

    closed = await client.post(f"{base}/{order.id}/close")

    assert closed.status_code == 200, closed.text
    assert (closed.json()["status"], closed.json()["closed_by"]) == (
        "closed",
        f"staff:{manager.user_id}",
    )
    assert (await client.post(f"{base}/{order.id}/close")).json() == closed.json()
    [alert] = await replenishment.low_stock(shop.store_id)
    assert (alert.available, alert.on_order) == (15, 4)  # the placed order's 4 only
    not_shipped = await client.post(f"{base}/{placed.id}/close")
    assert (not_shipped.status_code, not_shipped.json()["code"]) == (
        409,
        "restock_order_not_closable",
    )
    # Goods that come after all are received, and the order stays closed.
    await _receive(shop.store_id, late.json()["id"], {product: 5})
    assert _received(await _order(order)) == ("closed", [(30, 15)])


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_two_receivings_of_one_order_confirmed_at_once_receive_all_of_it(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = await open_shop()
    noodles, oranges = await shop.add(stock=0), await shop.add(stock=0)
    supplier = await supplier_client(shop.supplier_id)
    order = await _place(shop, {noodles: 10, oranges: 6})
    first = await _ship(supplier, client, shop.store_id, {noodles: 10}, order_id=order.id)
    second = await _ship(
        supplier, client, shop.store_id, {oranges: 6}, order_id=order.id, reference="ASN-2"
    )
    one = await _scanned(shop.store_id, first.json()["id"], {noodles: 10})
    two = await _scanned(shop.store_id, second.json()["id"], {oranges: 6})
    posting, go_on, second_done = anyio.Event(), anyio.Event(), anyio.Event()
    move = ledger.move

    async def first_waits_once_posting(*args: Any, **kwargs: Any) -> Any:
        if not posting.is_set():  # the first confirmation has credited the order by now
            posting.set()
            await go_on.wait()
        return await move(*args, **kwargs)

    async def confirm_second() -> None:
        await receiving.confirm(shop.store_id, two, actor="staff:3")
        second_done.set()

    monkeypatch.setattr(ledger, "move", first_waits_once_posting)
    async with anyio.create_task_group() as group:
        group.start_soon(partial(receiving.confirm, shop.store_id, one, actor="staff:2"))
        await posting.wait()
        group.start_soon(confirm_second)
        await done_or_waiting_for_a_lock(second_done.is_set)  # it runs now, or waits for the first
        go_on.set()
    assert _received(await _order(order)) == ("received", [(10, 10), (6, 6)])


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_cancel_while_a_notice_ships_the_order_is_refused(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = await open_shop()
    noodles = await shop.add(stock=0)
    supplier = await supplier_client(shop.supplier_id)
    order = await _place(shop, {noodles: 10})
    shipping, go_on, cancel_done = anyio.Event(), anyio.Event(), anyio.Event()
    ship = replenishment.ship_order
    refusals: list[str] = []

    async def ship_then_wait(*args: Any) -> None:
        await ship(*args)
        shipping.set()
        await go_on.wait()

    async def cancel() -> None:
        try:
            await replenishment.cancel_order(shop.store_id, order.id, actor="staff:1")
        except Conflict as refused:
            refusals.append(refused.code)
        cancel_done.set()

    async def push() -> None:
        pushed = await _ship(supplier, client, shop.store_id, {noodles: 10}, order_id=order.id)
        assert pushed.status_code == 200, pushed.text

    monkeypatch.setattr(replenishment, "ship_order", ship_then_wait)
    async with anyio.create_task_group() as group:
        group.start_soon(push)
        await shipping.wait()
        group.start_soon(cancel)
        await done_or_waiting_for_a_lock(cancel_done.is_set)  # it runs now, or waits for the notice
        go_on.set()
    assert refusals == ["restock_order_not_cancellable"]
    assert (await _order(order)).status == "shipped"
