"""Daily totals of certified transactions and how two sets of them differ (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from pos.platform.schemas import DailyTotals, Difference, TransactionDoc

__all__ = ["compare", "daily_totals", "missing_at_platform"]

Scope = Literal["transaction", "product", "county", "supplier"]
_SCOPES: tuple[tuple[Scope, str], ...] = (
    ("transaction", "transactions"),
    ("product", "products"),
    ("county", "counties"),
    ("supplier", "suppliers"),
)


def daily_totals(docs: Iterable[TransactionDoc]) -> DailyTotals:
    """Net fen per transaction, product, county and supplier; reversals count negative."""
    totals = DailyTotals(transactions={}, products={}, counties={}, suppliers={})
    for doc in docs:
        sign = -1 if doc.kind == "reversal" else 1
        totals.transactions[doc.transaction_id] = sign * doc.amount_fen
        for line in doc.lines:
            fen = sign * line.amount_fen
            _add(totals.products, line.certificate_no, fen)
            _add(totals.counties, line.origin_county_code, fen)
            _add(totals.suppliers, line.supplier_code, fen)
    return totals


def _add(into: dict[str, int], key: str, fen: int) -> None:
    into[key] = into.get(key, 0) + fen


def compare(merchant_id: str, local: DailyTotals, platform: DailyTotals) -> list[Difference]:
    """Every transaction and every total on which `local` and `platform` disagree."""
    differences: list[Difference] = []
    for scope, field in _SCOPES:
        ours: Mapping[str, int] = getattr(local, field)
        theirs: Mapping[str, int] = getattr(platform, field)
        # A transaction must be there; a total that nets to nothing may be absent on one side.
        missing = None if scope == "transaction" else 0
        differences.extend(
            Difference(
                merchant_id=merchant_id,
                scope=scope,
                key=key,
                local_fen=ours.get(key),
                platform_fen=theirs.get(key),
            )
            for key in sorted(set(ours) | set(theirs))
            if ours.get(key, missing) != theirs.get(key, missing)
        )
    return differences


def missing_at_platform(differences: Iterable[Difference]) -> list[str]:
    """Transaction ids known here that the platform does not have, or has with another amount."""
    return [d.key for d in differences if d.scope == "transaction" and d.local_fen is not None]
