"""The relay: claims due documents (transactions, ratings), signs them in batches, sends them.

A claim is a lease (`platform_lease_s`): the rows are taken in one write transaction, on
PostgreSQL with `FOR UPDATE SKIP LOCKED`, so relays running at once never take the same row while
a lease holds. A round sends one request per merchant, renewing the lease of that merchant's rows
just before: a round may outlast its lease, and rows another relay took over meanwhile are left
to it. A relay killed mid-send leaves its rows claimed; once the lease passes another relay sends
them again, and the platform answers "duplicate" for any it already stored, so a resend is
harmless. Failures wait `platform_retry_first_s`, doubling with 50-100 % jitter; after
`platform_max_attempts` a row is dead: logged at error level and listed for staff, who may send
it again. A reversal or rating is claimed once its order's sale is sent, never before it. Only
rows of the kinds the platform takes (`SENT_KINDS`) are claimed: a second sale set aside as
`sale_replayed` never is.

What becomes of a batch's rows, by the platform's answer (only a 200 marks anything sent):

- 200: each document `accepted` or a `duplicate` is sent; each `rejected` is dead at once with
  the platform's reason; one the answer leaves out fails (retried).
- 400, 409, 413, 422 (`_REFUSED`): the request is refused as a whole (malformed, too large, or
  in conflict with what the platform holds), and sending the same bytes again cannot succeed:
  it is split in halves until the documents refused alone are dead at once, and the rest go.
- 401, 403: the signature or its timestamp is refused, for every request of the merchant until
  its key or the clock is put right: not split; retried, and the error says what to check.
- 404, 405: POS_PLATFORM_URL names no platform API: retried, the error says so.
- Any other status, a timeout, no connection or an unreadable 200: retried.

A merchant without a key of its own, when the default `platform_key` is the public demo key and
the platform is the real one, is never signed for: its rows are dead at once, unsent, with an
error naming the setting; once it is set (and the relay restarted) staff retry them.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import groupby
from typing import Any

import anyio
import httpx
from piccolo.engine.sqlite import SQLiteEngine
from pydantic import ValidationError

from pos.db import current_engine, write_transaction
from pos.errors import Unavailable
from pos.events.signals import Signal
from pos.logs import logger
from pos.platform.schemas import SENT_KINDS, BatchResult
from pos.platform.signing import merchant_key, signed_headers
from pos.platform.tables import CertifiedTransaction
from pos.settings import Settings

__all__ = [
    "DOCUMENTS_DUE",
    "TRANSACTIONS_PATH",
    "Claimed",
    "Relay",
    "platform_client",
    "retry_delay",
    "run_relay",
    "unconfigured",
]

TRANSACTIONS_PATH = "/api/v1/transactions"
DOCUMENTS_DUE = Signal()
"""Notified in this process when documents are written or made due: the relay wakes for them."""
_ERROR_CHARS = 500
# The request itself is refused (its body, its size, or a conflict with what the platform holds):
# the same bytes get the same answer however often they are sent.
_REFUSED = frozenset(
    {
        httpx.codes.BAD_REQUEST,
        httpx.codes.CONFLICT,
        httpx.codes.REQUEST_ENTITY_TOO_LARGE,
        httpx.codes.UNPROCESSABLE_ENTITY,
    }
)
_SIGNATURE_CHECK = (
    "check {merchant}'s key in POS_PLATFORM_MERCHANT_KEYS (else POS_PLATFORM_KEY) and this"
    " machine's clock (a timestamp more than POS_PLATFORM_MAX_SKEW_S, {skew} s, off is refused)"
)
_URL_CHECK = "check POS_PLATFORM_URL ({url})"
# Every request is answered so until the operator changes a setting (or the clock): the error
# says which, from the first failure on.
_MISCONFIGURED: dict[int, str] = {
    httpx.codes.UNAUTHORIZED: _SIGNATURE_CHECK,
    httpx.codes.FORBIDDEN: _SIGNATURE_CHECK,
    httpx.codes.NOT_FOUND: _URL_CHECK,
    httpx.codes.METHOD_NOT_ALLOWED: _URL_CHECK,
}
_T = CertifiedTransaction
# Orders whose sale the platform does not have yet. Their reversals and ratings wait: the
# platform refuses a document about a sale it does not know, and a refusal is dead at once.
_UNSENT_SALES = _T.select(_T.order_id).where((_T.kind == "sale") & (_T.state != "sent"))


@dataclass(frozen=True, slots=True)
class Claimed:
    """A row this relay holds; `attempts` counts this one."""

    id: int
    transaction_id: str
    merchant_id: str
    body: str
    attempts: int


@dataclass(slots=True)
class _Outcome:
    """What became of one request: sent (new or duplicate), refused one by one, or failed.

    `refused`: the platform refused the request as a whole, as one it will never take.
    """

    sent: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)
    error: str = ""
    refused: bool = False


def retry_delay(attempts: int, settings: Settings) -> timedelta:
    """The wait after the `attempts`-th failure: doubling, capped, with 50-100 % jitter."""
    doubled = settings.platform_retry_first_s * 2 ** min(attempts - 1, 30)
    jitter = 0.5 + secrets.randbelow(501) / 1000
    return timedelta(seconds=min(doubled, settings.platform_retry_longest_s) * jitter)


class Relay:
    """Sends certified transactions to the platform at `client`'s base URL."""

    def __init__(self, settings: Settings, client: httpx.AsyncClient) -> None:
        self.settings = settings
        self.client = client

    async def round(self, only: list[str] | None = None) -> int:
        """Claim one batch of due rows (of `only`, if given), send it; returns how many."""
        claim = secrets.token_hex(8)
        rows = await _claim(claim, self.settings, only)
        for merchant_id, group in groupby(rows, key=lambda row: row.merchant_id):
            try:
                key = merchant_key(self.settings, merchant_id)
            except Unavailable as exc:
                # Not signed with the public demo key, nor retried: only a setting can help.
                for row in group:
                    await _dead(claim, row, f"{exc.detail}, then retry this dead letter")
                continue
            await self._deliver(claim, merchant_id, key, list(group))
        return len(rows)

    async def _deliver(self, claim: str, merchant_id: str, key: bytes, rows: list[Claimed]) -> None:
        """Send the rows `claim` still holds; a batch refused as a whole goes again in halves.

        Halving finds the documents the platform will never take (each then alone, and dead)
        in a few requests, and sends the others rather than let them die with them.
        """
        chunk = await _renew(claim, rows, self.settings)
        if not chunk:
            return
        outcome = await self._send(merchant_id, key, chunk)
        if outcome.refused and len(chunk) > 1:
            half = len(chunk) // 2
            await self._deliver(claim, merchant_id, key, chunk[:half])
            await self._deliver(claim, merchant_id, key, chunk[half:])
            return
        await _record(claim, chunk, outcome, self.settings)

    async def _send(self, merchant_id: str, key: bytes, chunk: list[Claimed]) -> _Outcome:
        # The stored documents are sent as they are: no parsing, the same bytes every time.
        body = b'{"transactions":[' + b",".join(row.body.encode() for row in chunk) + b"]}"
        headers = signed_headers(key, merchant_id, int(time.time()), body)
        timeout = self.settings.platform_timeout_s
        try:
            # httpx times each read alone: a platform dripping its answer would outlast the lease.
            with anyio.fail_after(timeout):
                response = await self.client.post(TRANSACTIONS_PATH, content=body, headers=headers)
        except TimeoutError:
            return _Outcome(error=f"no whole answer within {timeout:g} s")
        # Not only httpx's errors: a request that cannot even be made (a merchant id no header
        # can carry) must fail its rows too, which then back off and die for staff to see.
        except Exception as exc:
            return _Outcome(error=f"{type(exc).__name__}: {exc}"[:_ERROR_CHARS])
        if response.status_code != httpx.codes.OK:
            return self._not_ok(merchant_id, response)
        try:
            result = BatchResult.model_validate_json(response.content)
        except ValidationError:
            return _Outcome(error=f"unreadable answer: {response.text}"[:_ERROR_CHARS])
        refused = {item.transaction_id: item.reason for item in result.rejected}
        return _Outcome(sent=[*result.accepted, *result.duplicates], rejected=refused)

    def _not_ok(self, merchant_id: str, response: httpx.Response) -> _Outcome:
        """Any answer but 200 stores nothing, whatever its body says: no row of it is sent."""
        status = response.status_code
        check = _MISCONFIGURED.get(status)
        if check is None:
            error = f"HTTP {status}: {response.text}"
            return _Outcome(error=error[:_ERROR_CHARS], refused=status in _REFUSED)
        settings = self.settings
        hint = check.format(
            merchant=merchant_id, skew=settings.platform_max_skew_s, url=settings.platform_url
        )
        # Ahead of the body, which the cut to _ERROR_CHARS may shorten.
        error = f"HTTP {status}, {hint}: {response.text}"[:_ERROR_CHARS]
        logger.error(
            "platform: the platform refuses every request", merchant_id=merchant_id, error=error
        )
        return _Outcome(error=error)


async def _claim(claim: str, settings: Settings, only: list[str] | None) -> list[Claimed]:
    now = datetime.now(UTC)
    due = (
        (_T.state == "pending")
        & _T.kind.is_in(list(SENT_KINDS))
        & (_T.next_attempt_at <= now)
        & (_T.claimed_until.is_null() | (_T.claimed_until < now))
        & ((_T.kind == "sale") | _T.order_id.not_in(_UNSENT_SALES))
    )
    if only is not None:
        due &= _T.transaction_id.is_in(only or [""])
    # A plain read first: an idle relay must not take SQLite's write lock every poll.
    if not await _T.exists().where(due):
        return []
    async with write_transaction():
        select = _T.select(_T.id).where(due).order_by(_T.next_attempt_at)
        select = select.limit(settings.platform_batch_size)
        if not isinstance(current_engine(), SQLiteEngine):
            select = select.lock_rows(skip_locked=True)
        ids = [row["id"] for row in await select]
        if not ids:
            return []
        lease = now + timedelta(seconds=settings.platform_lease_s)
        rows = (
            await _T.update(
                {_T.claimed_by: claim, _T.claimed_until: lease, _T.attempts: _T.attempts + 1}
            )
            .where(_T.id.is_in(ids))
            .returning(_T.id, _T.transaction_id, _T.merchant_id, _T.body, _T.attempts)
        )
    return sorted((Claimed(**row) for row in rows), key=lambda row: (row.merchant_id, row.id))


async def _renew(claim: str, rows: list[Claimed], settings: Settings) -> list[Claimed]:
    """The rows `claim` still holds, their lease renewed for one more send.

    A round of many slow merchants can outlast its lease, and another relay may have claimed
    the rows still waiting: that relay sends them, not this one.
    """
    lease = datetime.now(UTC) + timedelta(seconds=settings.platform_lease_s)
    held = (
        await _T.update({_T.claimed_until: lease})
        .where(_T.id.is_in([row.id for row in rows]) & (_T.claimed_by == claim))
        .returning(_T.id)
    )
    ids = {row["id"] for row in held}
    if len(ids) < len(rows):
        logger.warning(
            "platform: the lease passed before sending, another relay has the rows",
            merchant_id=rows[0].merchant_id,
            count=len(rows) - len(ids),
        )
    return [row for row in rows if row.id in ids]


async def _settle(claim: str, ids: list[int], values: dict[Any, Any]) -> None:
    # Only while our claim holds: after the lease another relay may own the row.
    await _T.update({**values, _T.claimed_until: None}).where(
        _T.id.is_in(ids) & (_T.claimed_by == claim)
    )


async def _record(claim: str, chunk: list[Claimed], outcome: _Outcome, settings: Settings) -> None:
    sent = set(outcome.sent)
    done = [row.id for row in chunk if row.transaction_id in sent]
    if done:
        now = datetime.now(UTC)
        sent_values = {_T.state: "sent", _T.sent_at: now, _T.next_attempt_at: None}
        await _settle(claim, done, {**sent_values, _T.last_error: ""})
    for row in chunk:
        if row.transaction_id in sent:
            continue
        if row.transaction_id in outcome.rejected:
            await _dead(claim, row, f"refused: {outcome.rejected[row.transaction_id]}")
        elif outcome.refused:
            await _dead(claim, row, f"refused: {outcome.error}")
        else:
            await _failed(claim, row, outcome.error or "not in the platform's answer", settings)


async def _failed(claim: str, row: Claimed, error: str, settings: Settings) -> None:
    if row.attempts >= settings.platform_max_attempts:
        await _dead(claim, row, error)
        return
    delay = retry_delay(row.attempts, settings)
    logger.warning(
        "platform: send failed, retrying",
        transaction_id=row.transaction_id,
        attempts=row.attempts,
        in_s=round(delay.total_seconds(), 3),
        error=error,
    )
    due = datetime.now(UTC) + delay
    await _settle(claim, [row.id], {_T.next_attempt_at: due, _T.last_error: error})


async def _dead(claim: str, row: Claimed, error: str) -> None:
    logger.error(
        "platform: transaction dead-lettered, staff must retry it",
        transaction_id=row.transaction_id,
        merchant_id=row.merchant_id,
        attempts=row.attempts,
        error=error,
    )
    values = {_T.state: "dead", _T.dead_at: datetime.now(UTC), _T.next_attempt_at: None}
    await _settle(claim, [row.id], {**values, _T.last_error: error})


def platform_client(settings: Settings) -> httpx.AsyncClient:
    """An HTTP client for the platform at `platform_url`."""
    return httpx.AsyncClient(
        base_url=settings.platform_url or "", timeout=settings.platform_timeout_s
    )


def unconfigured(settings: Settings) -> str | None:
    """Why certified transactions of real sales pile up unsent, if they do: no platform URL."""
    if settings.platform_url or settings.payment_provider == "sandbox":
        return None
    return (
        f"POS_PAYMENT_PROVIDER={settings.payment_provider} takes real money but POS_PLATFORM_URL"
        " is not set: certified transactions wait in the backlog, unsent, until you set"
        " POS_PLATFORM_URL and its keys and restart"
    )


async def run_relay(stop: anyio.Event, settings: Settings) -> None:
    """Forward certified transactions until `stop` is set; idle, wait for a notify or a poll."""
    if not settings.platform_url:
        if problem := unconfigured(settings):
            logger.warning("platform: relay not configured", problem=problem)
        else:
            logger.info("platform: no POS_PLATFORM_URL, certified transactions wait in the backlog")
        return
    async with platform_client(settings) as client:
        relay = Relay(settings, client)
        logger.info("relay started", platform_url=settings.platform_url)
        with DOCUMENTS_DUE.listen() as woken:
            async with anyio.create_task_group() as group:
                group.start_soon(woken.set_when, stop)
                while not stop.is_set():
                    if await _safe_round(relay) == 0:
                        await woken.wait(settings.platform_idle_s)
                group.cancel_scope.cancel()
    logger.info("relay stopped")


async def _safe_round(relay: Relay) -> int:
    try:
        return await relay.round()
    except Exception:  # e.g. the database is away for a moment: log, wait, try again
        logger.exception("platform: relay round failed")
        return 0
