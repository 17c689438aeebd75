"""Sales racing with receiving, counts, transfers and write-offs: the level always equals the
ledger's sum, and what a step reports is read once the stock row is locked."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest
from piccolo.query.functions.aggregate import Sum

from pos.db import write_transaction
from pos.errors import Conflict
from pos.inventory import batches, counts, ledger, movements, shelf_life
from pos.inventory import service as inventory
from pos.inventory.fefo import Take
from pos.inventory.ledger import Entry
from pos.inventory.schemas import BatchOut, CountScanIn, MovementOut, TransferIn
from pos.inventory.tables import StockBatch, StockMovement
from pos.orders import service as orders
from tests.helpers.locks import done_or_waiting_for_a_lock
from tests.helpers.shop import Shop, open_shop
from tests.helpers.staff import add_store

pytestmark = pytest.mark.anyio


async def _buy(shop: Shop, product: int) -> int:
    try:
        created = await shop.order({"product_id": product, "quantity": 1})
    except Conflict:
        return 0
    await orders.mark_paid(
        created.order.id,
        amount_fen=created.order.total_fen,
        method="sandbox",
        reference=f"pay-{created.order.id}",
        payer_hash=None,
        paid_at=datetime.now(UTC),
    )
    return 1


async def _receive(shop: Shop, product: int, units: int) -> None:
    async with write_transaction():
        await ledger.move(shop.store_id, product, units, "receipt", Entry("race", "delivery"))


async def _receive_lot(shop: Shop, product: int, units: int, expires_in: timedelta) -> int:
    async with write_transaction():
        batch = await batches.add(
            shop.store_id,
            product,
            units,
            lot="",
            produced_on=None,
            expires_at=datetime.now(UTC) + expires_in,
            reference="race",
        )
        await ledger.move(shop.store_id, product, units, "receipt", Entry("race"), batch_id=batch)
    return batch


async def _count(shop: Shop, product: int, counted: int) -> None:
    try:
        async with write_transaction():
            await ledger.count(shop.store_id, product, counted, Entry("race", "count"))
    except Conflict:  # unpaid orders held more than the count: refused, changes nothing
        pass


async def _ledger(product: int, kind: str | None = None) -> int:
    where = (StockMovement.product == product) & StockMovement.applied.eq(True)
    if kind is not None:
        where &= StockMovement.kind == kind
    row = await StockMovement.select(Sum(StockMovement.delta)).where(where).first()
    return int(row["sum"] or 0) if row else 0


@pytest.mark.slow
async def test_sales_racing_receiving_and_counts_never_lose_or_invent_a_unit(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(stock=20)
    work = [_buy(shop, product) for _ in range(60)]
    work += [_receive(shop, product, 5) for _ in range(8)]
    work += [_count(shop, product, 15) for _ in range(4)]
    results = await asyncio.gather(*work)
    sold = sum(result for result in results if isinstance(result, int))

    level = await inventory.get_level(shop.store_id, product)
    assert level.held == 0
    assert level.on_hand == await _ledger(product)
    assert -await _ledger(product, "sale") == sold
    assert await _ledger(product, "receipt") == 40
    batches = await StockBatch.select(Sum(StockBatch.remaining)).first()
    assert batches is None or int(batches["sum"] or 0) <= level.on_hand


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_sale_between_a_transfers_plan_and_its_moves_leaves_it_whole(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = await open_shop()
    product = await shop.add(stock=0)
    await _receive_lot(shop, product, 5, timedelta(days=1))
    await _receive_lot(shop, product, 5, timedelta(days=2))
    other = await add_store()
    planned, resume, sold = anyio.Event(), anyio.Event(), anyio.Event()
    plan = batches.plan_transfer

    async def plan_then_wait(*args: Any) -> list[Take]:
        takes = await plan(*args)
        planned.set()
        await resume.wait()
        return takes

    async def transfer() -> None:
        data = TransferIn(to_store_id=other, product_id=product, quantity=5, reason="rebalance")
        await movements.transfer(shop.store_id, data, actor="staff:1", idempotency_key=None)

    async def sell() -> None:
        await planned.wait()
        await inventory.hold(shop.store_id, {product: 3})
        await inventory.commit_sale(shop.store_id, {product: 3})
        sold.set()

    monkeypatch.setattr(batches, "plan_transfer", plan_then_wait)
    async with anyio.create_task_group() as group:
        group.start_soon(transfer)
        group.start_soon(sell)
        await planned.wait()
        # The sale runs now, or waits for the transfer.
        await done_or_waiting_for_a_lock(sold.is_set)
        resume.set()
    assert (await inventory.get_level(shop.store_id, product)).on_hand == 2
    assert (await inventory.get_level(other, product)).on_hand == 5
    assert sum(lot.remaining for lot in await batches.lots(shop.store_id, product)) == 2


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_sale_while_a_count_is_posted_does_not_show_as_a_variance(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = await open_shop()
    product = await shop.add(stock=10)
    session = await counts.start(shop.store_id, actor="staff:1", idempotency_key=None)
    scan = CountScanIn(product_id=product, quantity=10)
    await counts.scan(shop.store_id, session.id, scan, idempotency_key=None)
    assert (await counts.get_count(shop.store_id, session.id)).lines[0].variance == 0
    reading, resume, sold = anyio.Event(), anyio.Event(), anyio.Event()
    moved = ledger._moved
    calls = 0

    async def wait_then_sum(*args: Any) -> int:
        # The first sum is the one finishing reads the expected level with.
        nonlocal calls
        calls += 1
        if calls == 1:
            reading.set()
            await resume.wait()
        return await moved(*args)

    async def finish() -> None:
        await counts.finish(shop.store_id, session.id, actor="staff:1")

    async def sell() -> None:
        await reading.wait()
        await inventory.hold(shop.store_id, {product: 2})
        await inventory.commit_sale(shop.store_id, {product: 2})
        sold.set()

    monkeypatch.setattr(ledger, "_moved", wait_then_sum)
    async with anyio.create_task_group() as group:
        group.start_soon(finish)
        group.start_soon(sell)
        await reading.wait()
        # The sale runs now, or waits for the count.
        await done_or_waiting_for_a_lock(sold.is_set)
        resume.set()
    monkeypatch.undo()
    [line] = (await counts.get_count(shop.store_id, session.id)).lines
    # Ten on the shelf when scanned, ten counted: the sale came after the scan.
    assert (line.counted, line.expected, line.variance) == (10, 10, 0)
    assert (await inventory.get_level(shop.store_id, product)).on_hand == 8


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_writing_off_a_batch_while_a_sale_takes_from_it_writes_off_what_is_left(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = await open_shop()
    product = await shop.add(stock=0)
    batch = await _receive_lot(shop, product, 5, timedelta(days=1))
    read, resume, done = anyio.Event(), anyio.Event(), anyio.Event()
    get = batches.get
    written: list[MovementOut] = []
    sold: list[int] = []

    async def get_then_wait(*args: Any) -> BatchOut:
        found = await get(*args)
        read.set()
        await resume.wait()
        return found

    async def write_off() -> None:
        written.append(
            await shelf_life.write_off_batch(
                shop.store_id, batch, reason="crushed", actor="staff:1", idempotency_key=None
            )
        )

    async def sell() -> None:
        await read.wait()
        try:
            await inventory.hold(shop.store_id, {product: 2})
            await inventory.commit_sale(shop.store_id, {product: 2})
            sold.append(2)
        except Conflict:  # the write-off took the batch first
            sold.append(0)
        done.set()

    monkeypatch.setattr(batches, "get", get_then_wait)
    async with anyio.create_task_group() as group:
        group.start_soon(write_off)
        group.start_soon(sell)
        await read.wait()
        # The sale runs now, or waits for the write-off.
        await done_or_waiting_for_a_lock(done.is_set)
        resume.set()
    monkeypatch.undo()
    # The write-off took what the sale left of the batch (current code: 409 out_of_stock).
    [movement] = written
    assert -movement.delta + sold[0] == 5
    assert (await batches.get(shop.store_id, batch, datetime.now(UTC))).remaining == 0
    assert (await inventory.get_level(shop.store_id, product)).on_hand == 0
