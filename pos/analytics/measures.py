"""The analytics math, pure: order facts, buyer histories, rates, cohorts, time to come back.

Refunds: each refund's fen are recorded on the lines it paid back (`pos.orders.refund_shares`:
the goods it paid for, then the rest in proportion), the shares the platform reverses of the
certified lines. A line's net and certified fen are its total less those, so an order's lines
keep exactly its total less refunds. An order refunded in full is no purchase at all.
A buyer's history is chain-wide: someone who first bought at store A is a returning buyer at B.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

__all__ = [
    "BuyerHistory",
    "CohortCell",
    "Comeback",
    "FirstPurchase",
    "LocalDays",
    "OrderFacts",
    "SoldLine",
    "Visit",
    "buyer_history",
    "cohort_offsets",
    "comeback",
    "days_of",
    "purchase_row",
    "rate",
]

COMEBACK_BUCKETS = ((0, 7), (8, 30), (31, 90), (91, 180), (181, None))


def rate(part: int, whole: int) -> float | None:
    """`part / whole` rounded to 4 places; None when there is no whole."""
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True, slots=True)
class LocalDays:
    """A moment's store-local day, the Monday of its week and the first day of its month."""

    day: date
    week: date
    month: date


def days_of(day: date) -> LocalDays:
    """A store-local day with the Monday of its week and the first day of its month."""
    return LocalDays(day, day - timedelta(days=day.weekday()), day.replace(day=1))


@dataclass(frozen=True, slots=True)
class SoldLine:
    """What a rollup needs of an order line as sold."""

    product_id: int
    county_code: str
    certified: bool
    total_fen: int
    refunded_fen: int  # the refunds' fen recorded on the line


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """What a rollup needs of a paid order."""

    order_id: int
    store_id: int
    payer_hash: str | None
    paid_at: datetime
    total_fen: int
    refunded_fen: int
    business_day: date  # the store-local day frozen at sale: a later change of zone moves nothing


def purchase_row(order: OrderFacts, lines: Sequence[SoldLine]) -> dict[str, object]:
    """The purchase row of a paid order that is not refunded in full (without buyer columns)."""
    days = days_of(order.business_day)
    total, refunded = order.total_fen, order.refunded_fen
    certified = sum(line.total_fen - line.refunded_fen for line in lines if line.certified)
    return {
        "order_id": order.order_id,
        "store_id": order.store_id,
        "payer_hash": order.payer_hash,
        "paid_at": order.paid_at,
        "day": days.day,
        "week": days.week,
        "month": days.month,
        "total_fen": total,
        "refunded_fen": refunded,
        "net_fen": total - refunded,
        "certified_fen": certified,
        "products": ",".join(str(p) for p in sorted({line.product_id for line in lines})),
        "counties": ",".join(sorted({line.county_code for line in lines})),
    }


@dataclass(frozen=True, slots=True)
class Visit:
    """One purchase as a buyer's history sees it."""

    order_id: int
    store_id: int
    paid_at: datetime
    days: LocalDays
    net_fen: int
    products: tuple[int, ...]
    counties: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FirstPurchase:
    """Where and when a buyer first bought (something): the cohort they belong to."""

    store_id: int
    paid_at: datetime
    days: LocalDays


@dataclass(frozen=True, slots=True)
class BuyerHistory:
    """Everything the rollups keep of one buyer, computed from all of their purchases."""

    first: FirstPurchase
    second_days: int | None
    purchases: int
    net_fen: int
    ranks: dict[int, int]
    products: dict[int, tuple[FirstPurchase, int]]
    counties: dict[str, tuple[FirstPurchase, int]]


def _first(visit: Visit) -> FirstPurchase:
    return FirstPurchase(visit.store_id, visit.paid_at, visit.days)


def buyer_history(visits: Iterable[Visit]) -> BuyerHistory:
    """A buyer's ranks, first and second purchase, and per product and county how often."""
    ordered = sorted(visits, key=lambda visit: (visit.paid_at, visit.order_id))
    if not ordered:
        raise ValueError("a buyer has at least one purchase")
    products: dict[int, tuple[FirstPurchase, int]] = {}
    counties: dict[str, tuple[FirstPurchase, int]] = {}
    for visit in ordered:
        for product in visit.products:
            first, seen = products.get(product, (_first(visit), 0))
            products[product] = (first, seen + 1)
        for county in visit.counties:
            first, seen = counties.get(county, (_first(visit), 0))
            counties[county] = (first, seen + 1)
    return BuyerHistory(
        first=_first(ordered[0]),
        second_days=_days_between(ordered[0], ordered[1]) if len(ordered) > 1 else None,
        purchases=len(ordered),
        net_fen=sum(visit.net_fen for visit in ordered),
        ranks={visit.order_id: rank for rank, visit in enumerate(ordered, 1)},
        products=products,
        counties=counties,
    )


def _days_between(first: Visit, second: Visit) -> int:
    """Days from one purchase's local day to a later one's, each at its own store.

    A store in a time zone behind the first's may still be on the day before: the same day.
    """
    return max((second.days.day - first.days.day).days, 0)


@dataclass(frozen=True, slots=True)
class CohortCell:
    """Buyers of the cohort starting `cohort` who bought again `offset` months or weeks later."""

    cohort: date
    offset: int
    buyers: int


def cohort_offsets(
    rows: Iterable[tuple[date, date, int]], grain: str
) -> dict[date, dict[int, int]]:
    """(cohort start, active period start, buyers) rows as {cohort: {offset: buyers}}."""
    table: dict[date, dict[int, int]] = {}
    for cohort, period, buyers in rows:
        if grain == "month":
            offset = (period.year - cohort.year) * 12 + period.month - cohort.month
        else:
            offset = (period - cohort).days // 7
        table.setdefault(cohort, {})[offset] = buyers
    return table


@dataclass(frozen=True, slots=True)
class Comeback:
    """How long new buyers took to buy a second time."""

    new_buyers: int
    came_back: int
    median_days: float | None
    mean_days: float | None
    buckets: list[tuple[str, int]]


def _median(counts: Counter[int]) -> float | None:
    total = sum(counts.values())
    if not total:
        return None
    values = sorted(counts.elements())
    middle = total // 2
    return float(values[middle]) if total % 2 else (values[middle - 1] + values[middle]) / 2


def _bucket_label(low: int, high: int | None) -> str:
    return f"{low}-{high}" if high is not None else f"{low}+"


def comeback(days_to_second: Iterable[tuple[int | None, int]]) -> Comeback:
    """From (days to the second purchase or None, buyers) rows: median, mean, buckets."""
    counts: Counter[int] = Counter()
    never = 0
    for days, buyers in days_to_second:
        if days is None:
            never += buyers
        else:
            counts[days] += buyers
    came_back = sum(counts.values())
    buckets = [
        (
            _bucket_label(low, high),
            sum(n for d, n in counts.items() if d >= low and (high is None or d <= high)),
        )
        for low, high in COMEBACK_BUCKETS
    ]
    mean = round(sum(d * n for d, n in counts.items()) / came_back, 2) if came_back else None
    return Comeback(came_back + never, came_back, _median(counts), mean, buckets)
