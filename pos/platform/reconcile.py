"""Reconciliation: the local certified totals of a store-local day against the platform's.

Each merchant's day is compared transaction by transaction and per product, origin county and
supplier; every disagreement is named, and so is every certified sale paid that day that has no
certified transaction here (its handler failed for good): the platform cannot miss what was
never recorded, so only the orders can show it. Likewise every refund made that day whose
reversal is not recorded: only its `order_refunded` event, kept until handled, can show it.
With `resend`, the transactions the platform lacks (or holds with another amount) are made due
again and sent at once; the platform dedupes by id, so sending one it already has changes nothing.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from typing import Any

import anyio
import httpx
from pydantic import ValidationError

from pos.errors import InvalidInput, Unavailable
from pos.events import dead
from pos.events.outbox import Event
from pos.orders import service as orders
from pos.platform import service
from pos.platform.relay import Relay, platform_client
from pos.platform.schemas import DailyTotals, Difference, ReconcileReport, TransactionDoc
from pos.platform.signing import merchant_key, signed_headers
from pos.platform.tables import CertifiedTransaction
from pos.platform.totals import compare, daily_totals, missing_at_platform
from pos.settings import Settings
from pos.stores import service as stores

__all__ = [
    "TOTALS_PATH",
    "platform_totals",
    "reconcile",
    "unforwarded_sales",
    "unreversed_refunds",
]

TOTALS_PATH = "/api/v1/daily-totals"
_T = CertifiedTransaction
# Ids per query: each is a bind parameter, and PostgreSQL takes 32,767 in one statement.
_CHUNK = 1_000
_DAY = timedelta(days=1)
# The days whose neighbours, a day before and two after (`_around`), are still in the calendar.
_FIRST_DAY, _LAST_DAY = date.min + _DAY, date.max - 2 * _DAY


async def reconcile(day: date, settings: Settings, *, resend: bool = False) -> ReconcileReport:
    """Compare `day` with the platform; with `resend`, send what it lacks, then compare again."""
    if not settings.platform_url:
        raise Unavailable("POS_PLATFORM_URL is not set", code="platform_not_configured")
    if not _FIRST_DAY <= day <= _LAST_DAY:
        raise InvalidInput(f"cannot reconcile {day}: give a day from {_FIRST_DAY} to {_LAST_DAY}")
    async with platform_client(settings) as client:
        report = await _compare(day, settings, client)
        missing = await _sales_first(missing_at_platform(report.differences))
        if not (resend and missing):
            return report
        relay = Relay(settings, client)
        resent: list[str] = []
        for chunk in _chunks(missing):
            resent += await _resend(relay, chunk)
        again = await _compare(day, settings, client)
    return again.model_copy(update={"resent": resent})


async def _sales_first(transaction_ids: list[str]) -> list[str]:
    """The ids with the sales first: the platform refuses a reversal of a sale it does not have."""
    sales: set[str] = set()
    for chunk in _chunks(transaction_ids):
        rows = await _T.select(_T.transaction_id).where(
            _T.transaction_id.is_in(chunk) & (_T.kind == "sale")
        )
        sales.update(row["transaction_id"] for row in rows)
    return sorted(transaction_ids, key=lambda transaction_id: transaction_id not in sales)


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    return (ids[start : start + _CHUNK] for start in range(0, len(ids), _CHUNK))


async def _resend(relay: Relay, transaction_ids: list[str]) -> list[str]:
    await service.requeue(transaction_ids)
    while await relay.round(only=transaction_ids):
        pass
    return await _sent(transaction_ids)


async def _sent(transaction_ids: list[str]) -> list[str]:
    # Requeued as pending: those sent since, not those another relay's lease kept from us.
    rows = await _T.select(_T.transaction_id).where(
        _T.transaction_id.is_in(transaction_ids) & (_T.state == "sent")
    )
    sent = {row["transaction_id"] for row in rows}
    return [transaction_id for transaction_id in transaction_ids if transaction_id in sent]


async def _compare(day: date, settings: Settings, client: httpx.AsyncClient) -> ReconcileReport:
    # Ratings carry no money: the totals are of sales and reversals only.
    certified = _T.kind.is_in(["sale", "reversal"])
    rows = await _T.select(_T.merchant_id, _T.body).where((_T.business_day == day) & certified)
    local: dict[str, list[TransactionDoc]] = {}
    for row in rows:
        local.setdefault(row["merchant_id"], []).append(
            TransactionDoc.model_validate_json(row["body"])
        )
    merchants = sorted(set(local) | await stores.merchant_ids())
    differences: list[Difference] = []
    platform_count = 0
    for merchant_id in merchants:
        theirs = await platform_totals(client, settings, merchant_id, day)
        platform_count += len(theirs.transactions)
        differences += compare(merchant_id, daily_totals(local.get(merchant_id, [])), theirs)
    differences += await unforwarded_sales(day)
    differences += await unreversed_refunds(day)
    return ReconcileReport(
        business_day=day,
        merchants=merchants,
        local_transactions=len(rows),
        platform_transactions=platform_count,
        differences=differences,
        resent=[],
    )


async def unforwarded_sales(day: date) -> list[Difference]:
    """Orders sold on the store-local `day` with certified lines but no certified transaction."""
    rows = await orders.certified_lines_paid(day)
    store_ids = {row["store_id"] for row in rows}
    merchants = {
        store_id: (await stores.merchant_store(store_id)).merchant_id for store_id in store_ids
    }
    certified_fen: dict[int, int] = defaultdict(int)
    merchant_of: dict[int, str] = {}
    for row in rows:
        certified_fen[row["order_id"]] += row["total_fen"]
        merchant_of[row["order_id"]] = merchants[row["store_id"]]
    recorded = {row["order_id"] for row in await _recorded("sale", day)}
    return [
        Difference(
            merchant_id=merchant_of[order_id],
            scope="order",
            key=str(order_id),
            local_fen=fen,
            platform_fen=None,
        )
        for order_id, fen in sorted(certified_fen.items())
        if order_id not in recorded
    ]


async def unreversed_refunds(day: date) -> list[Difference]:
    """Refunds made on the store-local `day` that reverse certified fen but are not recorded.

    A refund's day is the one its event froze when it was written, as its reversal's will be.
    The handler records the reversal before its `order_refunded` event is done, so only a refund
    whose event is not done (waiting, or dead) can lack one; done events are purged in time.
    """
    refunds = await dead.unfinished_events(orders.ORDER_REFUNDED, *_around(day))
    expected = [doc for event in refunds if (doc := await _reversal(event)) is not None]
    recorded = {row["transaction_id"] for row in await _recorded("reversal", day)}
    return [
        Difference(
            merchant_id=doc.merchant_id,
            scope="refund",
            key=doc.transaction_id,
            local_fen=doc.amount_fen,
            platform_fen=None,
        )
        for doc in expected
        if doc.business_day == day and doc.transaction_id not in recorded
    ]


async def _reversal(refund: Event) -> TransactionDoc | None:
    try:
        return await service.reversal_of(refund)
    except Unavailable:  # its sale is not recorded either: named, scope order, on its own day
        return None


def _around(day: date) -> tuple[datetime, datetime]:
    """From a day before `day` to a day after it, in UTC: every time zone's `day` lies within."""
    start = datetime.combine(day, clock(), UTC) - _DAY
    return start, start + 3 * _DAY


async def _recorded(kind: str, day: date) -> list[dict[str, Any]]:
    # The rows near `day`, not those of its orders by id: a day's ids can pass PostgreSQL's
    # 32,767 bind parameters. A day either side: a sale, refund or rating whose event was
    # written before days were frozen is dated in the store's zone when its handler ran.
    near = (_T.business_day >= day - _DAY) & (_T.business_day <= day + _DAY)
    return await _T.select(_T.order_id, _T.transaction_id).where((_T.kind == kind) & near)


async def platform_totals(
    client: httpx.AsyncClient, settings: Settings, merchant_id: str, day: date
) -> DailyTotals:
    """The platform's totals of one merchant's day; Unavailable when it does not answer."""
    body = json.dumps({"merchant_id": merchant_id, "business_day": day.isoformat()}).encode()
    headers = signed_headers(
        merchant_key(settings, merchant_id), merchant_id, int(time.time()), body
    )
    timeout = settings.platform_timeout_s
    try:
        # httpx times each read alone: a platform dripping its answer would hold reconcile up.
        with anyio.fail_after(timeout):
            response = await client.post(TOTALS_PATH, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise Unavailable(f"the platform does not answer: {exc}", code="platform_down") from None
    except TimeoutError:
        raise Unavailable(
            f"the platform gave no whole answer within {timeout:g} s", code="platform_down"
        ) from None
    if response.status_code != httpx.codes.OK:
        raise Unavailable(
            f"the platform answered {response.status_code}: {response.text[:300]}",
            code="platform_error",
        )
    try:
        return DailyTotals.model_validate_json(response.content)
    except ValidationError:
        raise Unavailable(
            f"the platform's totals are unreadable: {response.text[:300]}", code="platform_error"
        ) from None
