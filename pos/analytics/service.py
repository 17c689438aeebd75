"""The measures: sales by place, product and day; buyers, cohorts, coming back; regions.

Every figure is for a `Scope`: a set of stores a manager may see and a range of store-local days.
Each reads the rollups with one or two aggregate queries and leaves the arithmetic to
`pos.analytics.measures`. Definitions are in docs/analytics.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from pos.analytics.measures import cohort_offsets, comeback, rate
from pos.analytics.schemas import (
    BucketOut,
    BuyersOut,
    CohortOut,
    CohortsOut,
    ComebackOut,
    Dimension,
    Grain,
    RegionRow,
    RegionsOut,
    RepeatBy,
    RepeatOut,
    RepeatRow,
    SalesOut,
    SalesRow,
    ScopeOut,
    StoreRegionOut,
)
from pos.analytics.sql import aggregate, id_list
from pos.analytics.tables import StoreRegion
from pos.catalog.tables import County, Product, Province, Supplier
from pos.errors import Forbidden, InvalidInput, NotFound
from pos.staff.actors import StaffActor
from pos.stores.tables import Store

__all__ = [
    "MAX_DAYS",
    "MAX_ROWS",
    "Scope",
    "buyers",
    "cohorts",
    "comeback_time",
    "regions",
    "repeat",
    "sales",
    "scope_for",
    "set_store_region",
    "store_region",
    "stores_for",
]

MAX_DAYS = 3 * 366
MAX_ROWS = 500
_SALES_KEY = {
    "province": "province_code",
    "county": "county_code",
    "supplier": "supplier_id",
    "product": "product_id",
    "day": "day",
}
_NOTHING = ""


@dataclass(frozen=True, slots=True)
class Scope:
    """Stores and store-local days, both ends included."""

    store_ids: tuple[int, ...]
    date_from: date
    date_to: date

    @property
    def out(self) -> ScopeOut:
        return ScopeOut(
            store_ids=list(self.store_ids), date_from=self.date_from, date_to=self.date_to
        )

    @property
    def stores(self) -> str:
        return id_list(self.store_ids)


async def stores_for(actor: StaffActor, store_ids: list[int] | None) -> tuple[int, ...]:
    """The stores asked for, if `actor` manages each of them (none asked: all they manage)."""
    if ("manager", None) in actor.roles:
        managed = {row["id"] for row in await Store.select(Store.id)}
    else:
        managed = {store for role, store in actor.roles if role == "manager" and store is not None}
    if not managed:
        raise Forbidden("figures need the manager role", code="wrong_role")
    wanted = set(store_ids or managed)
    if not wanted <= managed:
        raise Forbidden(
            "figures need the manager role at every store asked for", code="other_store"
        )
    return tuple(sorted(wanted))


async def scope_for(
    actor: StaffActor, store_ids: list[int] | None, date_from: date, date_to: date
) -> Scope:
    """The scope asked for, if `actor` manages every store in it."""
    if date_to < date_from:
        raise InvalidInput("date_to is before date_from", code="period_reversed")
    if (date_to - date_from).days >= MAX_DAYS:
        raise InvalidInput(f"a period is at most {MAX_DAYS} days", code="period_too_long")
    return Scope(await stores_for(actor, store_ids), date_from, date_to)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


async def _names(by: str, keys: list[str]) -> dict[str, str]:
    if by == "day" or not keys:
        return {}
    if by in ("province", "county"):
        table = Province if by == "province" else County
        rows = await table.select(table.code, table.name_zh).where(table.code.is_in(keys))
        return {row["code"]: row["name_zh"] for row in rows}
    table2 = Supplier if by == "supplier" else Product
    rows = await table2.select(table2.id, table2.name_zh).where(
        table2.id.is_in([int(key) for key in keys])
    )
    return {str(row["id"]): row["name_zh"] for row in rows}


async def sales(scope: Scope, by: Dimension) -> SalesOut:
    """Net and certified sales by province, county, supplier, product or day."""
    column = _SALES_KEY[by]
    order = "k" if by == "day" else "net DESC, k"
    rows = await aggregate(
        f"SELECT {column} AS k, SUM(net_fen) AS net, SUM(certified_fen) AS certified, "  # noqa: S608 (constant names)
        "SUM(quantity) AS quantity, SUM(weight_g) AS weight FROM analytics_sales_day "
        f"WHERE store_id IN {scope.stores} AND day BETWEEN {{}} AND {{}} "
        f"GROUP BY {column} ORDER BY {order}",
        scope.date_from,
        scope.date_to,
    )
    keys = [_as_date(row["k"]).isoformat() if by == "day" else str(row["k"]) for row in rows]
    names = await _names(by, keys[:MAX_ROWS])
    out = [
        SalesRow(
            key=key,
            name=names.get(key, key if by == "day" else _NOTHING),
            net_fen=row["net"],
            certified_fen=row["certified"],
            quantity=row["quantity"],
            weight_g=row["weight"],
        )
        for key, row in zip(keys, rows, strict=True)
    ]
    return SalesOut(
        scope=scope.out,
        by=by,
        net_fen=sum(row.net_fen for row in out),
        certified_fen=sum(row.certified_fen for row in out),
        rows=out[:MAX_ROWS] if by != "day" else out,
    )


async def buyers(scope: Scope) -> BuyersOut:
    """First-time, returning and repeat buyers, and the money from repeat purchases."""
    figures = (
        await aggregate(
            "SELECT COUNT(buyer_id) AS buyers, "  # noqa: S608 (integer ids)
            "SUM(CASE WHEN buyer_id IS NOT NULL AND first_day >= {} THEN 1 ELSE 0 END) "
            "AS newcomers, "
            "SUM(CASE WHEN buyer_id IS NOT NULL AND top >= 2 THEN 1 ELSE 0 END) AS again, "
            "SUM(orders) AS orders, SUM(net) AS net, SUM(repeat_net) AS repeat_net, "
            "SUM(CASE WHEN buyer_id IS NULL THEN orders ELSE 0 END) AS anonymous, "
            "SUM(CASE WHEN buyer_id IS NULL THEN net ELSE 0 END) AS anonymous_net "
            "FROM (SELECT buyer_id, MIN(first_day) AS first_day, MAX(rank) AS top, "
            "COUNT(*) AS orders, SUM(net_fen) AS net, "
            "SUM(CASE WHEN rank >= 2 THEN net_fen ELSE 0 END) AS repeat_net "
            f"FROM analytics_purchase WHERE store_id IN {scope.stores} "
            "AND day BETWEEN {} AND {} GROUP BY buyer_id) b",
            scope.date_from,
            scope.date_from,
            scope.date_to,
        )
    )[0]
    # Anonymous orders share one group (NULL buyer): COUNT(buyer_id) leaves it out.
    n = {key: int(value or 0) for key, value in figures.items()}
    return BuyersOut(
        scope=scope.out,
        orders=n["orders"],
        anonymous_orders=n["anonymous"],
        buyers=n["buyers"],
        first_time_buyers=n["newcomers"],
        returning_buyers=n["buyers"] - n["newcomers"],
        repeat_buyers=n["again"],
        repeat_rate=rate(n["again"], n["buyers"]),
        net_fen=n["net"],
        repeat_net_fen=n["repeat_net"],
        repeat_revenue_share=rate(n["repeat_net"], n["net"]),
        anonymous_net_fen=n["anonymous_net"],
    )


async def cohorts(scope: Scope, grain: Grain) -> CohortsOut:
    """Buyers by the month or week of their first purchase, and how many bought again when."""
    rows = await aggregate(
        f"SELECT first_{grain} AS c, {grain} AS m, COUNT(DISTINCT buyer_id) AS buyers "  # noqa: S608 (constant names, integer ids)
        f"FROM analytics_purchase WHERE buyer_id IS NOT NULL AND store_id IN {scope.stores} "
        f"AND first_store_id IN {scope.stores} AND first_day BETWEEN {{}} AND {{}} "
        f"AND day <= {{}} GROUP BY first_{grain}, {grain}",
        scope.date_from,
        scope.date_to,
        scope.date_to,
    )
    table = cohort_offsets(
        ((_as_date(r["c"]), _as_date(r["m"]), int(r["buyers"])) for r in rows), grain
    )
    out = []
    for cohort, by_offset in sorted(table.items()):
        active = [by_offset.get(offset, 0) for offset in range(max(by_offset) + 1)]
        size = by_offset.get(0, 0)
        out.append(
            CohortOut(
                cohort=cohort,
                size=size,
                active=active,
                retention=[rate(n, size) for n in active],
            )
        )
    return CohortsOut(scope=scope.out, grain=grain, cohorts=out)


async def comeback_time(scope: Scope) -> ComebackOut:
    """Of the buyers who first bought in the period here, who came back and how soon."""
    rows = await aggregate(
        "SELECT second_days AS days, COUNT(*) AS buyers FROM analytics_buyer "  # noqa: S608
        f"WHERE first_store_id IN {scope.stores} AND first_day BETWEEN {{}} AND {{}} "
        "GROUP BY second_days",
        scope.date_from,
        scope.date_to,
    )
    figures = comeback((row["days"], int(row["buyers"])) for row in rows)
    return ComebackOut(
        scope=scope.out,
        new_buyers=figures.new_buyers,
        came_back=figures.came_back,
        comeback_rate=rate(figures.came_back, figures.new_buyers),
        median_days=figures.median_days,
        mean_days=figures.mean_days,
        buckets=[BucketOut(days=label, buyers=n) for label, n in figures.buckets],
    )


async def repeat(scope: Scope, by: RepeatBy) -> RepeatOut:
    """Per product or origin county: its new buyers here, and how many bought it again."""
    table, column = ("product", "product_id") if by == "product" else ("county", "county_code")
    rows = await aggregate(
        f"SELECT {column} AS k, COUNT(*) AS buyers, "  # noqa: S608 (constant names, integer ids)
        "SUM(CASE WHEN orders >= 2 THEN 1 ELSE 0 END) AS again "
        f"FROM analytics_buyer_{table} WHERE first_store_id IN {scope.stores} "
        f"AND first_day BETWEEN {{}} AND {{}} GROUP BY {column} ORDER BY buyers DESC, k "
        f"LIMIT {MAX_ROWS}",
        scope.date_from,
        scope.date_to,
    )
    names = await _names(by, [str(row["k"]) for row in rows])
    return RepeatOut(
        scope=scope.out,
        by=by,
        rows=[
            RepeatRow(
                key=str(row["k"]),
                name=names.get(str(row["k"]), _NOTHING),
                buyers=row["buyers"],
                repeat_buyers=row["again"],
                repeat_rate=rate(row["again"], row["buyers"]),
            )
            for row in rows
        ],
    )


async def regions(scope: Scope) -> RegionsOut:
    """Sales by the stores' region (the buyers') against the goods' province of origin."""
    rows = await aggregate(
        "SELECT store_id, province_code, SUM(net_fen) AS net, SUM(certified_fen) AS certified "  # noqa: S608
        f"FROM analytics_sales_day WHERE store_id IN {scope.stores} AND day BETWEEN {{}} AND {{}} "
        "GROUP BY store_id, province_code",
        scope.date_from,
        scope.date_to,
    )
    set_regions = await StoreRegion.select(StoreRegion.store_id, StoreRegion.province_code).where(
        StoreRegion.store_id.is_in(list(scope.store_ids))
    )
    region_of = {row["store_id"]: row["province_code"] for row in set_regions}
    flows: dict[tuple[str | None, str], list[int]] = {}
    for row in rows:
        sums = flows.setdefault((region_of.get(row["store_id"]), row["province_code"]), [0, 0])
        sums[0] += row["net"]
        sums[1] += row["certified"]
    codes = sorted({code for pair in flows for code in pair if code is not None})
    names = await _names("province", codes)
    out = [
        RegionRow(
            buyer_region=buyer,
            buyer_region_name=names.get(buyer, _NOTHING) if buyer else "unknown",
            origin_province=origin,
            origin_province_name=names.get(origin, _NOTHING),
            net_fen=net,
            certified_fen=certified,
        )
        for (buyer, origin), (net, certified) in sorted(
            flows.items(), key=lambda item: (item[0][0] or "~", item[0][1])
        )
    ]
    unknown = sum(row.net_fen for row in out if row.buyer_region is None)
    return RegionsOut(scope=scope.out, rows=out, unknown_region_net_fen=unknown)


async def store_region(store_id: int) -> str | None:
    """The province code a store's buyers count for; None while no manager has set one."""
    row = (
        await StoreRegion.select(StoreRegion.province_code)
        .where(StoreRegion.store_id == store_id)
        .first()
    )
    return None if row is None else str(row["province_code"])


async def set_store_region(store_id: int, province_code: str | None) -> StoreRegionOut:
    """Set (or, with None, forget) the region a store's buyers count for."""
    if not await Store.exists().where(Store.id == store_id):
        raise NotFound(f"no store {store_id}", code="store_not_found")
    if province_code and not await Province.exists().where(Province.code == province_code):
        raise InvalidInput(f"no province {province_code}", code="unknown_province")
    if province_code:
        # One statement: two settings at once must not both find no row and both insert one.
        await StoreRegion.insert(
            StoreRegion(store_id=store_id, province_code=province_code)
        ).on_conflict(
            target=StoreRegion.store_id, action="DO UPDATE", values=[StoreRegion.province_code]
        )
    else:
        await StoreRegion.delete().where(StoreRegion.store_id == store_id)
    return StoreRegionOut(store_id=store_id, province_code=province_code)
