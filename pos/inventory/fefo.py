"""First expired, first out: what a sale takes, what a shortfall trims, what is marked down.

Pure functions of loaded rows, tested without a database.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = [
    "Lot",
    "Markdown",
    "Rule",
    "Take",
    "after_first",
    "fefo_key",
    "markdown_percent",
    "marked_down",
    "plan_return",
    "plan_sale",
    "plan_trim",
]

_NEVER = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Lot:
    """A batch as planning sees it."""

    id: int
    remaining: int
    expires_at: datetime | None

    def expired(self, now: datetime) -> bool:
        """Whether it may no longer be sold."""
        return self.expires_at is not None and self.expires_at <= now


@dataclass(frozen=True, slots=True)
class Take:
    """Units taken from a batch; batch None: stock received without one."""

    batch_id: int | None
    units: int


@dataclass(frozen=True, slots=True)
class Rule:
    """A markdown rule: `percent` off within `within_hours` of expiry; product None: all."""

    product_id: int | None
    within_hours: int
    percent: int


@dataclass(frozen=True, slots=True)
class Markdown:
    """`percent` off `units` pieces or grams."""

    percent: int
    units: int

    def __post_init__(self) -> None:
        if not 0 <= self.percent <= 100 or self.units < 0:
            raise ValueError(f"markdown {self.percent} % of {self.units} units is out of range")


def fefo_key(lot: Lot) -> tuple[datetime, int]:
    """Sort key: the batch expiring first comes first; batches that keep come last."""
    return (lot.expires_at or _NEVER, lot.id)


def _fefo(lots: Iterable[Lot]) -> list[Lot]:
    return sorted((lot for lot in lots if lot.remaining > 0), key=fefo_key)


def plan_sale(lots: Sequence[Lot], units: int, on_hand: int, now: datetime) -> list[Take]:
    """Take `units` from the batch expiring first, then from stock without a batch.

    Expired batches come last: the hold refused them, so they are reached only by units that
    expired while an order held them (the sale was paid for and must be recorded).
    """
    fresh = [lot for lot in _fefo(lots) if not lot.expired(now)]
    stale = [lot for lot in _fefo(lots) if lot.expired(now)]
    unbatched = max(on_hand - sum(lot.remaining for lot in _fefo(lots)), 0)
    takes: list[Take] = []
    left = units
    for lot in fresh:
        left = _take(takes, lot.id, min(lot.remaining, left), left)
    left = _take(takes, None, min(unbatched, left), left)
    for lot in stale:
        left = _take(takes, lot.id, min(lot.remaining, left), left)
    if left:
        _take(takes, None, left, left)
    return takes


def _take(takes: list[Take], batch_id: int | None, units: int, left: int) -> int:
    if units > 0:
        takes.append(Take(batch_id, units))
    return left - max(units, 0)


def after_first(takes: Sequence[Take], units: int) -> list[Take]:
    """What `takes` take once their first `units` are left out (say, to orders holding them)."""
    left: list[Take] = []
    for part in takes:
        skipped = min(part.units, units)
        units -= skipped
        if part.units > skipped:
            left.append(Take(part.batch_id, part.units - skipped))
    return left


def plan_trim(lots: Sequence[Lot], on_hand: int) -> list[Take]:
    """Units to remove from batches so they hold no more than `on_hand`, earliest expiry first."""
    excess = sum(lot.remaining for lot in lots if lot.remaining > 0) - on_hand
    takes: list[Take] = []
    for lot in _fefo(lots):
        if excess <= 0:
            break
        excess = _take(takes, lot.id, min(lot.remaining, excess), excess)
    return takes


def plan_return(sold_from: Sequence[Lot], units: int) -> list[Take]:
    """Where `units` a sale's shopper brings back go: into the batches the sale took them from.

    `sold_from`: those batches, each `remaining` the units the sale took from it and not back
    yet. The batch expiring first takes them first, so no returned unit outlives the batch it
    may have come from; what the batches cannot take goes to stock without a batch, where the
    sale took the rest.
    """
    takes: list[Take] = []
    left = units
    for lot in _fefo(sold_from):
        left = _take(takes, lot.id, min(lot.remaining, left), left)
    _take(takes, None, left, left)
    return takes


def markdown_percent(
    product_id: int, first: Lot | None, rules: Iterable[Rule], now: datetime
) -> int:
    """The markdown while `first` (the batch a sale takes first) is near its expiry; else 0."""
    if first is None or first.expires_at is None or first.expired(now):
        return 0
    left = first.expires_at - now
    return max(
        (
            rule.percent
            for rule in rules
            if rule.product_id in (None, product_id) and left <= timedelta(hours=rule.within_hours)
        ),
        default=0,
    )


def marked_down(
    product_id: int, lots: Iterable[Lot], rules: Sequence[Rule], now: datetime
) -> tuple[Markdown, ...]:
    """Each of `lots` (first sold first) at its own markdown, up to the first not marked down.

    A later expiry is never marked down more, so the lots after that one are not either.
    """
    found: list[Markdown] = []
    for lot in lots:
        percent = markdown_percent(product_id, lot, rules, now)
        if not percent:
            break
        found.append(Markdown(percent, lot.remaining))
    return tuple(found)
