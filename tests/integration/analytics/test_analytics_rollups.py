"""Rollups kept by the outbox handlers equal a full recomputation from the orders."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
import uuid
from datetime import timedelta
from typing import Any

import anyio
import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pos.analytics import members, rollups
from pos.analytics.rebuild import rebuild
from pos.analytics.schemas import MembershipIn
from pos.analytics.sql import serialize_writers
from pos.analytics.tables import Buyer, Purchase, SalesDay
from pos.db import Statement, insert_rows, opened_database, write_transaction
from pos.errors import Conflict
from pos.events import outbox
from pos.orders.schemas import OrderOut
from pos.stores.tables import Store
from pos.worker import register_handlers
from tests.helpers.shop import open_shop
from tests.integration.analytics.conftest import (
    also_sold_at,
    product_in,
    refund,
    run_events,
    sell,
    shanghai,
)

pytestmark = pytest.mark.anyio

SECRET = "analytics-test-secret-0123456789abcdef"
_TABLES = ("analytics_sales_day", "analytics_buyer")
_BY_BUYER = ("analytics_buyer_product", "analytics_buyer_county")


async def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every rollup row without surrogate ids; buyers named by their key."""
    keys = {row["id"]: row["key"] for row in await Buyer.select(Buyer.id, Buyer.key)}
    tables: dict[str, list[tuple[Any, ...]]] = {}
    purchases = await Purchase.select(*[c for c in Purchase._meta.columns if c._meta.name != "id"])
    tables["purchase"] = sorted(
        tuple(str(v) for v in {**row, "buyer_id": keys.get(row["buyer_id"])}.values())
        for row in purchases
    )
    for table in (*_TABLES, *_BY_BUYER):
        rows = await Purchase.raw(f"SELECT * FROM {table}")
        tables[table] = sorted(
            tuple(str(keys.get(v) if k == "buyer_id" else v) for k, v in row.items() if k != "id")
            for row in rows
        )
    return tables


OPERATIONS = st.lists(
    st.one_of(
        st.tuples(
            st.just("sell"),
            st.sampled_from([None, "p1", "p2", "p3"]),
            st.integers(0, 40),  # hours after a month's last evening, in steps of 3
            st.sampled_from([(1, 0), (0, 1), (2, 1)]),
            st.booleans(),  # at the second store
        ),
        st.tuples(st.just("refund"), st.integers(0, 20), st.integers(1, 3)),
        st.tuples(st.just("join"), st.integers(0, 20), st.integers(0, 1)),
        st.tuples(st.just("events")),
    ),
    min_size=1,
    max_size=14,
)


async def _play(operations: list[tuple[Any, ...]]) -> None:
    run = uuid.uuid4().hex[:8]  # examples share the database, not their payers
    a, b = await open_shop(), await open_shop()
    x = await product_in(a, "990001", 1000)
    y = await product_in(a, "980001", 2500, certified=False)
    await also_sold_at(b, x)
    await also_sold_at(b, y)
    sold: list[tuple[OrderOut, int]] = []  # each order, and what is left to refund
    for operation in operations:
        if operation[0] == "sell":
            _, payer, hours, (nx, ny), at_b = operation
            lines = {p: n for p, n in ((x, nx), (y, ny)) if n}
            at = shanghai(1, 31, 20) + timedelta(hours=3 * hours)
            payer = f"{run}-{payer}" if payer else None
            order = await sell(b if at_b else a, lines, payer=payer, at=at)
            sold.append((order, order.total_fen))
        elif operation[0] == "refund" and sold:
            index = operation[1] % len(sold)
            order, left = sold[index]
            amount = left if operation[2] == 3 else left // 3
            if amount > 0:
                await refund(order, amount)
                sold[index] = (order, left - amount)
        elif operation[0] == "join" and sold:
            order = sold[operation[1] % len(sold)][0]
            phone = ("13800138000", "13900139000")[operation[2]]
            # Refused for an anonymous order, or a payer who joined with the other phone.
            with contextlib.suppress(Conflict):
                await members.join(
                    order.id, order.access_token or "", MembershipIn(phone=phone), secret=SECRET
                )
        elif operation[0] == "events":
            await run_events()
    await run_events()


async def _example(database_url: str, operations: list[tuple[Any, ...]]) -> None:
    async with opened_database(database_url):
        await _play(operations)
        kept = await snapshot()
        await rebuild()
        assert await snapshot() == kept


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=OPERATIONS)
def test_rollups_equal_a_recomputation_after_sales_refunds_and_joins(
    database_url: str, operations: list[tuple[Any, ...]]
) -> None:
    asyncio.run(_example(database_url, operations))


async def test_the_worker_registers_the_rollup_handlers(db: str) -> None:
    register_handlers()
    shop = await open_shop()
    await Store.update({Store.merchant_id: "XM-TEST-0001"}).where(Store.id == shop.store_id)
    product = await shop.add(price_fen=700)
    await sell(shop, {product: 2}, payer="p9", at=shanghai(5, 1))
    while await outbox.dispatch_due():
        pass
    rows = await Purchase.select(Purchase.net_fen, Purchase.rank).where(
        Purchase.store_id == shop.store_id
    )
    assert rows == [{"net_fen": 1400, "rank": 1}]


async def test_a_replayed_event_changes_nothing(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(price_fen=700)
    order = await sell(shop, {product: 1}, payer="p9", at=shanghai(5, 1))
    await run_events()
    before = await snapshot()
    event = outbox.Event(0, "order_paid", str(order.id), {"order_id": order.id}, 2)
    await rollups.on_order_event(event)
    assert await snapshot() == before


async def test_refreshes_running_at_once_equal_a_recomputation(db: str) -> None:
    # Same buyers, same store-days, sales and refunds of one order: handled by parallel workers.
    a, b = await open_shop(), await open_shop()
    x = await product_in(a, "990001", 1000)
    await also_sold_at(b, x)
    sold = [
        await sell(
            (a, b)[n % 2], {x: 1}, payer=f"p{n % 3}" if n % 4 else None, at=shanghai(3, 1 + n % 2)
        )
        for n in range(24)
    ]
    for order in sold[::5]:
        await refund(order, order.total_fen // 2)
    async with anyio.create_task_group() as group:
        for order in sold * 2:
            group.start_soon(rollups.refresh_order, order.id)
    kept = await snapshot()
    await rebuild()
    assert await snapshot() == kept


async def test_a_refund_recounts_only_its_orders_cells_less_the_shares_on_its_lines(
    db: str,
) -> None:
    shop = await open_shop()
    x = await product_in(shop, "990001", 1000)
    y = await product_in(shop, "980001", 2500, certified=False)
    await sell(shop, {y: 1}, payer=None, at=shanghai(6, 1))
    order = await sell(shop, {x: 2}, payer=None, at=shanghai(6, 1, 15))
    await run_events()
    # A marker in the other product's cell: a recount of the store-day would wipe it.
    await SalesDay.update({SalesDay.quantity: 99}).where(SalesDay.product_id == y)
    await refund(order, 500)
    await run_events()
    cells = await SalesDay.select(SalesDay.product_id, SalesDay.net_fen, SalesDay.quantity)
    assert sorted(cells, key=lambda row: row["product_id"]) == sorted(
        [
            {"product_id": x, "net_fen": 1500, "quantity": 2},  # no goods named: none back
            {"product_id": y, "net_fen": 2500, "quantity": 99},
        ],
        key=lambda row: row["product_id"],
    )


# This database's only: other runs on the same server take advisory locks of their own.
_ADVISORY_LOCKS = Statement(
    "SELECT granted, mode, classid, objid FROM pg_locks WHERE locktype = 'advisory'"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " ORDER BY granted DESC"
)


async def _advisory_locks_once_one_waits() -> list[tuple[bool, str, int]]:
    with anyio.fail_after(5):
        while True:
            rows = await _ADVISORY_LOCKS.rows()
            if not all(row["granted"] for row in rows):
                break
            await anyio.sleep(0.01)
    return [(row["granted"], row["mode"], row["classid"] << 32 | row["objid"]) for row in rows]


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_refresh_waits_for_a_rebuild_before_it_locks_any_rows(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(price_fen=700)
    order = await sell(shop, {product: 1}, payer="p9", at=shanghai(5, 1))
    rebuilding, finish = anyio.Event(), anyio.Event()

    async def rebuild_holding_on() -> None:
        async with write_transaction():
            await serialize_writers()
            rebuilding.set()
            await finish.wait()

    async with anyio.create_task_group() as group:
        group.start_soon(rebuild_holding_on)
        await rebuilding.wait()
        group.start_soon(rollups.refresh_order, order.id)
        locks = await _advisory_locks_once_one_waits()
        finish.set()
    # One key, the writer lock: the refresh waits for it holding no row's lock.
    assert [(granted, mode) for granted, mode, _ in locks] == [
        (True, "ExclusiveLock"),
        (False, "ShareLock"),
    ]
    assert len({key for *_, key in locks}) == 1
    assert await Purchase.count().where(Purchase.order_id == order.id) == 1


async def test_a_linked_payers_next_sale_counts_for_the_member(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(price_fen=700)
    first = await sell(shop, {product: 1}, payer="p1", at=shanghai(5, 1))
    await run_events()
    phone = MembershipIn(phone="13800138000")
    await members.join(first.id, first.access_token or "", phone, secret=SECRET)
    await sell(shop, {product: 2}, payer="p1", at=shanghai(5, 2))
    await run_events()
    buyers = await Buyer.select(Buyer.key, Buyer.purchases, Buyer.net_fen)
    assert [(row["key"].split(":")[0], row["purchases"], row["net_fen"]) for row in buyers] == [
        ("member", 2, 2100)
    ]
    assert sorted(row["rank"] for row in await Purchase.select(Purchase.rank)) == [1, 2]
    kept = await snapshot()
    await rebuild()
    assert await snapshot() == kept


class _Paused:
    """A statement that, run the first time, says so and waits before running."""

    def __init__(self, statement: Statement, reached: anyio.Event, go_on: anyio.Event) -> None:
        self.statement, self.reached, self.go_on = statement, reached, go_on

    async def rows(self, *args: Any) -> list[dict[str, Any]]:
        self.reached.set()
        await self.go_on.wait()
        return await self.statement.rows(*args)


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_refresh_that_waited_for_a_join_locks_the_members_history(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = await open_shop()
    product = await shop.add(price_fen=700)
    order = await sell(shop, {product: 1}, payer="p1", at=shanghai(5, 1))
    await run_events()
    joined, commit_join, refresh_locked, finish = (anyio.Event() for _ in range(4))
    refresh_buyer = members.refresh_buyer

    async def refresh_then_hold_on(key: str) -> None:
        await refresh_buyer(key)
        if key.startswith("member:"):
            joined.set()
            await commit_join.wait()

    monkeypatch.setattr(members, "refresh_buyer", refresh_then_hold_on)
    forget = _Paused(rollups._FORGET_PURCHASE, refresh_locked, finish)
    monkeypatch.setattr(rollups, "_FORGET_PURCHASE", forget)
    phone = MembershipIn(phone="13800138000")
    async with anyio.create_task_group() as group:
        join = functools.partial(members.join, secret=SECRET)
        group.start_soon(join, order.id, order.access_token or "", phone)
        await joined.wait()
        group.start_soon(rollups.refresh_order, order.id)
        await _advisory_locks_once_one_waits()  # the refresh waits for the join to commit
        commit_join.set()
        with anyio.fail_after(5):
            await refresh_locked.wait()
        locks = await _ADVISORY_LOCKS.rows()
        finish.set()
    member = await Buyer.select(Buyer.key).first()
    assert member is not None
    assert member["key"].startswith("member:")
    key = await Statement("SELECT hashtextextended({}, 0) AS k").first(member["key"])
    assert key is not None
    held = {row["classid"] << 32 | row["objid"] for row in locks if row["granted"]}
    # Another payer's refresh of this member must wait: both rewrite its whole history.
    assert key["k"] & (2**64 - 1) in held


@pytest.mark.parametrize(("table", "key"), [(_BY_BUYER[0], 7), (_BY_BUYER[1], "341623")])
async def test_a_buyer_has_one_row_per_product_and_per_county(
    db: str, table: str, key: object
) -> None:
    column = "product_id" if table == _BY_BUYER[0] else "county_code"
    row = {"buyer_id": 1, column: key, "first_store_id": 1, "first_day": shanghai(12, 1).date()}
    await insert_rows(table, [{**row, "orders": 1}])
    with pytest.raises((sqlite3.IntegrityError, asyncpg.UniqueViolationError), match=r"(?i)unique"):
        await insert_rows(table, [{**row, "orders": 2}])


async def test_sums_of_many_orders_go_past_what_one_order_holds(db: str) -> None:
    shop = await open_shop()
    # One order may come to an INTEGER's worth of fen: two of them, one buyer's, of the same
    # product on the same day, add up past it.
    gold = await shop.add(price_fen=1_100_000_000, stock=10)
    for hour in (10, 11):
        await sell(shop, {gold: 1}, payer="p1", at=shanghai(2, 1, hour))
    await run_events()
    rows = await SalesDay.select(SalesDay.net_fen).where(SalesDay.product_id == gold)
    assert [row["net_fen"] for row in rows] == [2_200_000_000]
    buyer = await Buyer.select(Buyer.purchases, Buyer.net_fen).first()
    assert buyer is not None
    assert (buyer["purchases"], buyer["net_fen"]) == (2, 2_200_000_000)


async def _days_of_store(store_id: int) -> dict[str, list[Any]]:
    purchases = await Purchase.select(Purchase.day, Purchase.week, Purchase.month).where(
        Purchase.store_id == store_id
    )
    cells = await SalesDay.select(SalesDay.day).where(SalesDay.store_id == store_id)
    buyers = await Buyer.select(Buyer.first_day).where(Buyer.first_store_id == store_id)
    return {"purchases": purchases, "cells": cells, "buyers": buyers}


async def test_a_sale_keeps_its_day_when_the_store_changes_its_time_zone(db: str) -> None:
    shop = await open_shop()
    product = await shop.add(price_fen=1000)
    order = await sell(shop, {product: 2}, payer="p1", at=shanghai(1, 31, 23, 30))
    await run_events()
    # Half past midnight of February 1 in Tokyo: the day as sold is January 31 all the same.
    await Store.update({Store.time_zone: "Asia/Tokyo"}).where(Store.id == shop.store_id)
    await refund(order, 500)
    await run_events()
    refreshed = await _days_of_store(shop.store_id)
    await rebuild()
    day = shanghai(1, 31).date()
    as_sold = {
        "purchases": [{"day": day, "week": shanghai(1, 26).date(), "month": shanghai(1, 1).date()}],
        "cells": [{"day": day}],
        "buyers": [{"first_day": day}],
    }
    assert refreshed == as_sold
    assert await _days_of_store(shop.store_id) == as_sold
