"""Recompute every rollup from the orders: `pos analytics rebuild`, and the handlers' reference.

One write transaction: the rollups are emptied; purchases are computed from the orders a page at
a time into a staging table (bulk loads); buyers are computed from the staged purchases read in
payer order, so each payer's purchases arrive together (members' payers are gathered aside and
done last); then purchases and their buyer columns go into place with one INSERT ... SELECT,
written once (an UPDATE of every row would leave the table twice its size), and the daily sales
with another.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from pos.analytics.measures import OrderFacts, SoldLine, Visit, buyer_history, purchase_row
from pos.analytics.rollups import BUYER_COLUMNS, SALES_CELLS, history_rows, visit_of
from pos.analytics.sql import copy, execute, fetch, is_postgres, serialize_writers
from pos.analytics.tables import PayerLink
from pos.db import write_transaction

__all__ = ["PAGE", "Progress", "RebuildCounts", "rebuild"]

PAGE = 20_000
Progress = Callable[[str, int, int], None]

_TABLES = (
    "analytics_purchase",
    "analytics_sales_day",
    "analytics_buyer",
    "analytics_buyer_product",
    "analytics_buyer_county",
)
# Declared types matter: SQLite converts DATE and TIMESTAMPTZ columns back by their names.
# Staged purchases have the columns of `measures.purchase_row`; ranks, what `_BuyerWriter` adds.
_STAGE_COLUMNS = {
    "order_id": "INTEGER PRIMARY KEY",
    "store_id": "INTEGER",
    "payer_hash": "VARCHAR(64)",
    "paid_at": "TIMESTAMPTZ",
    "day": "DATE",
    "week": "DATE",
    "month": "DATE",
    "total_fen": "INTEGER",
    "refunded_fen": "INTEGER",
    "net_fen": "INTEGER",
    "certified_fen": "INTEGER",
    "products": "TEXT",
    "counties": "TEXT",
}
_RANK_COLUMNS = {
    "order_id": "INTEGER PRIMARY KEY",
    "buyer_id": "INTEGER",
    "rank": "INTEGER",
    "first_store_id": "INTEGER",
    "first_day": "DATE",
    "first_week": "DATE",
    "first_month": "DATE",
}
_PURCHASE_COLUMNS = tuple(_STAGE_COLUMNS)
_ORDERS = (
    "SELECT id, store, payer_hash, paid_at, business_day, total_fen, refunded_fen FROM orders "
    "WHERE state IN ('paid', 'partially_refunded') AND paid_at IS NOT NULL AND id > {} "
    "ORDER BY id LIMIT {}"
)
_LINES = (
    'SELECT "order", product, origin_county_code, certified, total_fen, refunded_fen'
    ' FROM order_line WHERE "order" BETWEEN {} AND {}'
)
_VISITS = (
    "SELECT order_id, payer_hash, store_id, paid_at, day, week, month, net_fen, products, "
    "counties FROM analytics_stage WHERE payer_hash > {} ORDER BY payer_hash LIMIT {}"
)
_STAGED = ", ".join(f"s.{column}" for column in _PURCHASE_COLUMNS)
_PLACE_PURCHASES = (
    f"INSERT INTO analytics_purchase ({', '.join(_PURCHASE_COLUMNS)}, "  # noqa: S608 (constants)
    "buyer_id, rank, first_store_id, first_day, first_week, first_month) "
    f"SELECT {_STAGED}, r.buyer_id, COALESCE(r.rank, 0), r.first_store_id, r.first_day, "
    "r.first_week, r.first_month FROM analytics_stage s "
    "LEFT JOIN analytics_rank r ON r.order_id = s.order_id ORDER BY s.store_id, s.day"
)
_BUYER_COLUMNS = ("id", *BUYER_COLUMNS)


def _temp_table(name: str, columns: dict[str, str]) -> str:
    return f"CREATE TEMP TABLE {name} ({', '.join(f'{c} {t}' for c, t in columns.items())})"


@dataclass(frozen=True, slots=True)
class RebuildCounts:
    """What a rebuild wrote."""

    purchases: int
    buyers: int


async def rebuild(progress: Progress | None = None) -> RebuildCounts:
    """Empty the rollups and recompute them from the orders, in one transaction."""
    report = progress or (lambda phase, done, total: None)
    async with write_transaction():
        await serialize_writers()
        # TRUNCATE: a DELETE would leave PostgreSQL's tables twice their size until a VACUUM FULL.
        empty = "TRUNCATE {}" if is_postgres() else "DELETE FROM {}"
        for table in _TABLES:
            await execute(empty.format(table))
        await execute(_temp_table("analytics_stage", _STAGE_COLUMNS))
        await execute(_temp_table("analytics_rank", _RANK_COLUMNS))
        purchases = await _purchases(report)
        await execute("CREATE INDEX analytics_stage_payer ON analytics_stage (payer_hash)")
        buyers = await _buyers(report)
        await execute(_PLACE_PURCHASES)
        await execute(SALES_CELLS.format(where="p.store_id IS NOT NULL"))
        await execute("DROP TABLE analytics_stage")
        await execute("DROP TABLE analytics_rank")
    return RebuildCounts(purchases, buyers)


async def _purchases(report: Progress) -> int:
    counted = "SELECT count(*) AS n FROM orders WHERE state IN ('paid', 'partially_refunded')"
    total = (await fetch(counted))[0]["n"]
    after, done = 0, 0
    while orders := await fetch(_ORDERS, after, PAGE):
        after = orders[-1]["id"]
        lines: dict[int, list[SoldLine]] = {}
        for row in await fetch(_LINES, orders[0]["id"], after):
            sold = SoldLine(
                row["product"],
                row["origin_county_code"],
                bool(row["certified"]),
                row["total_fen"],
                row["refunded_fen"],
            )
            lines.setdefault(row["order"], []).append(sold)
        rows = [purchase_row(_facts(o), lines.get(o["id"], [])) for o in orders]
        records = [tuple(row[column] for column in _PURCHASE_COLUMNS) for row in rows]
        await copy("analytics_stage", _PURCHASE_COLUMNS, records)
        done += len(orders)
        report("purchases", done, total)
    return done


def _facts(row: dict[str, Any]) -> OrderFacts:
    return OrderFacts(
        row["id"],
        row["store"],
        row["payer_hash"],
        row["paid_at"],
        row["total_fen"],
        row["refunded_fen"],
        row["business_day"],
    )


@dataclass
class _BuyerWriter:
    """Buyers computed so far, written a page at a time; ids are given here, from 1."""

    next_id: int = 1
    buyers: list[tuple[Any, ...]] = field(default_factory=list)
    products: list[tuple[Any, ...]] = field(default_factory=list)
    counties: list[tuple[Any, ...]] = field(default_factory=list)
    ranks: list[tuple[Any, ...]] = field(default_factory=list)

    def add(self, key: str, visits: list[Visit]) -> None:
        history = buyer_history(visits)
        buyer, products, counties = history_rows(key, history)
        buyer_id, self.next_id = self.next_id, self.next_id + 1
        self.buyers.append((buyer_id, *buyer.values()))
        self.products.extend((buyer_id, *row.values()) for row in products)
        self.counties.extend((buyer_id, *row.values()) for row in counties)
        store, days = history.first.store_id, history.first.days
        self.ranks.extend(
            (order_id, buyer_id, rank, store, days.day, days.week, days.month)
            for order_id, rank in history.ranks.items()
        )

    async def flush(self) -> None:
        await copy("analytics_buyer", _BUYER_COLUMNS, self.buyers)
        history = ("first_store_id", "first_day", "orders")
        await copy("analytics_buyer_product", ("buyer_id", "product_id", *history), self.products)
        await copy("analytics_buyer_county", ("buyer_id", "county_code", *history), self.counties)
        await copy("analytics_rank", tuple(_RANK_COLUMNS), self.ranks)
        self.buyers, self.products, self.counties, self.ranks = [], [], [], []


async def _buyers(report: Progress) -> int:
    links = {row["payer_hash"]: row["member"] for row in await PayerLink.select()}
    members: dict[int, list[Visit]] = {}
    writer = _BuyerWriter()
    named = "SELECT count(*) AS n FROM analytics_stage WHERE payer_hash IS NOT NULL"
    total, done = (await fetch(named))[0]["n"], 0
    async for payer, visits in _visits_by_payer():
        if payer in links:
            members.setdefault(links[payer], []).extend(visits)
        else:
            writer.add(f"payer:{payer}", visits)
        done += len(visits)
        if len(writer.ranks) >= PAGE:
            await writer.flush()
            report("buyers", done, total)
    for member, visits in sorted(members.items()):
        writer.add(f"member:{member}", visits)
    await writer.flush()
    report("buyers", total, total)
    if is_postgres():
        await execute(
            "SELECT setval(pg_get_serial_sequence('analytics_buyer', 'id'), {}, false)",
            writer.next_id,
        )
    return writer.next_id - 1


async def _visits_by_payer() -> AsyncIterator[tuple[str, list[Visit]]]:
    """Each payer's purchases, a page of payers at a time."""
    after = ""
    while rows := await fetch(_VISITS, after, PAGE):
        if len(rows) == PAGE:
            # The page may end inside the last payer's purchases: leave them to the next page.
            last = rows[-1]["payer_hash"]
            rows = [row for row in rows if row["payer_hash"] != last] or await fetch(
                _VISITS.replace("> {} ORDER BY payer_hash LIMIT {}", "= {}"), last
            )
        after = rows[-1]["payer_hash"]
        for payer, group in groupby(rows, key=lambda row: row["payer_hash"]):
            yield payer, [visit_of(row) for row in group]
