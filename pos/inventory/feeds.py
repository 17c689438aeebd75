"""Supplier stock feeds the server pulls: a JSON or CSV document at a URL, on a schedule.

JSON is the push body (`{"updates": [...]}`); CSV has the header
`certificate_no,available,updated_at`. A feed is applied like a push: whole or not at all.
Scheduling is an outbox event that schedules the next one; its key is the feed's time slot, so
however many chains were started (a feed set twice, a retried event) only one pull runs per slot.
Setting a feed pulls it at once under a key of its own: the slot's pull may have run already, from
the address now mended. A worker runs one supplier's pulls one after another (their keys start with
its id), but pulls may still overlap (two workers, a pull asked for through the API): each product
keeps the update with the latest supplier time whichever finishes last, and a pull of an address
replaced meanwhile leaves the feed's status alone.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import anyio
import httpx
from pydantic import ValidationError

from pos.catalog import service as catalog
from pos.errors import NotFound, PosError, Unavailable
from pos.events import outbox
from pos.inventory.supplier_sync import (
    Problem,
    apply_updates,
    parse_push,
    refused,
    validation_problems,
)
from pos.inventory.sync_schemas import (
    MAX_UPDATES,
    FeedIn,
    FeedOut,
    StockUpdateIn,
    SyncResultOut,
)
from pos.inventory.tables import SupplierFeed
from pos.logs import logger
from pos.nul_guard import holds_nul

__all__ = [
    "CSV_HEADER",
    "FEED_PULL",
    "Feed",
    "get_feed",
    "on_feed_pull",
    "parse_feed",
    "pull_all",
    "pull_feed",
    "set_feed",
]

FEED_PULL = "supplier_feed_pull"
CSV_HEADER = ("certificate_no", "available", "updated_at")
_FIELDS_PAST_HEADER = "more fields than the header's 3: quote a value that holds a comma"
FETCH_TIMEOUT_S = 30.0
# Room for MAX_UPDATES lines of either format, the most a feed or a push may hold.
MAX_FEED_BYTES = 32 * 2**20

_F = SupplierFeed


class Feed(NamedTuple):
    """A feed document's updates, and the line of each as the supplier sees the document."""

    updates: list[StockUpdateIn]
    lines: list[int]


def parse_feed(format: str, content: bytes) -> Feed:
    """The updates of a feed document; refused whole, naming each bad line."""
    if holds_nul(content):
        raise refused([Problem(0, "the feed holds a NUL character")], "the feed")
    if format == "json":
        updates = parse_push(content.removeprefix(codecs.BOM_UTF8))
        return Feed(updates, list(range(1, len(updates) + 1)))
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise refused([Problem(0, "the feed is not UTF-8 text")], "the feed") from None
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != CSV_HEADER:
        raise refused([Problem(1, f"the header must be {','.join(CSV_HEADER)}")], "the feed")
    # Numbered as read: the reader skips blank lines, and a quoted value may span lines.
    try:
        rows = [(reader.line_num, row) for row in itertools.islice(reader, MAX_UPDATES + 1)]
    except csv.Error as exc:  # e.g. a value past the csv module's 128 KiB
        raise refused([Problem(reader.line_num, f"unreadable CSV: {exc}")], "the feed") from None
    if not rows:
        raise refused([Problem(0, "the feed has no lines")], "the feed")
    # DictReader files the fields past the header's under None: a line unquoted in the wrong place.
    if overlong := [Problem(n, _FIELDS_PAST_HEADER) for n, row in rows if None in row]:
        raise refused(overlong, "the feed")
    if len(rows) > MAX_UPDATES:
        too_long = f"the feed has more than {MAX_UPDATES} lines: split it"
        raise refused([Problem(rows[-1][0], too_long)], "the feed")
    try:
        updates = [StockUpdateIn.model_validate(row) for _, row in rows]
    except ValidationError:
        raise refused(_csv_problems(rows), "the feed") from None
    return Feed(updates, [number for number, _ in rows])


def _csv_problems(rows: list[tuple[int, dict[str, str]]]) -> list[Problem]:
    problems: list[Problem] = []
    for number, row in rows:
        try:
            StockUpdateIn.model_validate(row)
        except ValidationError as exc:
            found = validation_problems(exc, list_field="", first_line=number)
            problems.extend(Problem(number, problem.reason) for problem in found)
    return problems


async def set_feed(supplier_id: int, data: FeedIn) -> FeedOut:
    """Pull the supplier's feed from `data.url` every `interval_minutes`, starting now."""
    await catalog.require_supplier(supplier_id)
    row = _F(
        supplier=supplier_id,
        url=str(data.url),
        format=data.format,
        interval_minutes=data.interval_minutes,
    )
    await _F.insert(row).on_conflict(
        target=_F.supplier, action="DO UPDATE", values=[_F.url, _F.format, _F.interval_minutes]
    )
    # Its pull schedules the next slot's, which joins the chain when one is running.
    key = f"{supplier_id}:set:{datetime.now(UTC).isoformat()}"
    await outbox.emit(FEED_PULL, key, {"supplier_id": supplier_id})
    outbox.notify()
    return await get_feed(supplier_id)


async def get_feed(supplier_id: int) -> FeedOut:
    """The supplier's feed settings and how its last pull went."""
    row = await _F.select().where(_F.supplier == supplier_id).first()
    if row is None:
        raise NotFound(f"supplier {supplier_id} has no feed", code="feed_not_found")
    return FeedOut(
        supplier_id=supplier_id,
        url=row["url"],
        format=row["format"],
        interval_minutes=row["interval_minutes"],
        last_pulled_at=row["last_pulled_at"],
        last_error=row["last_error"],
    )


async def pull_feed(supplier_id: int) -> SyncResultOut:
    """Fetch the feed and apply it; a refused feed changes no stock and its reasons are kept."""
    feed = await get_feed(supplier_id)
    try:
        updates, lines = parse_feed(feed.format, await _fetch(feed.url))
        result = await apply_updates(supplier_id, updates, lines=lines)
    except PosError as exc:
        await _pulled(supplier_id, feed.url, _describe(exc))
        raise
    await _pulled(supplier_id, feed.url, "")
    return result


def _describe(exc: PosError) -> str:
    lines = [exc.detail] + [
        f"line {error['line']}: {error['reason']}" for error in exc.extra.get("errors", [])
    ]
    return "\n".join(lines)[:4000]


async def _fetch(url: str) -> bytes:
    """The document at `url`, read whole within FETCH_TIMEOUT_S and MAX_FEED_BYTES."""
    try:
        with anyio.fail_after(FETCH_TIMEOUT_S):  # httpx times each read alone
            async with (
                httpx.AsyncClient(timeout=FETCH_TIMEOUT_S) as client,
                client.stream("GET", url) as response,
            ):
                if response.status_code != 200:
                    raise Unavailable(
                        f"the feed at {url} answered {response.status_code}",
                        code="feed_unreachable",
                    )
                return await _read_capped(response)
    except (httpx.HTTPError, TimeoutError) as exc:
        reason = str(exc) or f"no whole answer within {FETCH_TIMEOUT_S:g} s"
        raise Unavailable(
            f"the feed at {url} did not answer: {reason}", code="feed_unreachable"
        ) from None


async def _read_capped(response: httpx.Response) -> bytes:
    content = bytearray()
    async for chunk in response.aiter_bytes():
        content += chunk
        if len(content) > MAX_FEED_BYTES:
            too_big = f"the feed is larger than {MAX_FEED_BYTES // 2**20} MiB"
            raise refused([Problem(0, too_big)], "the feed")
    return bytes(content)


async def _pulled(supplier_id: int, url: str, error: str) -> None:
    """Keep how the pull of `url` went, unless the feed has moved to another address since."""
    values: dict[Any, Any] = {_F.last_pulled_at: datetime.now(UTC), _F.last_error: error}
    await _F.update(values).where((_F.supplier == supplier_id) & (_F.url == url))


async def pull_all() -> dict[int, SyncResultOut | str]:
    """Pull every feed now (`pos inventory pull-feeds`): each supplier's result or error."""
    results: dict[int, SyncResultOut | str] = {}
    for row in await _F.select(_F.supplier).order_by(_F.supplier):
        try:
            results[row["supplier"]] = await pull_feed(row["supplier"])
        except PosError as exc:
            results[row["supplier"]] = _describe(exc)
    return results


async def _schedule(supplier_id: int, interval_minutes: int, at: datetime) -> None:
    slot = int(at.timestamp() // (interval_minutes * 60))
    due = datetime.fromtimestamp(slot * interval_minutes * 60, UTC)
    key = f"{supplier_id}:{interval_minutes}:{slot}"
    await outbox.emit(FEED_PULL, key, {"supplier_id": supplier_id}, available_at=due)


async def on_feed_pull(event: outbox.Event) -> None:
    """Outbox handler: pull the feed, then schedule the next pull (while the feed exists),
    whatever the pull did."""
    supplier_id = int(event.payload["supplier_id"])
    row = await _F.select(_F.interval_minutes).where(_F.supplier == supplier_id).first()
    if row is None:
        return
    try:
        await pull_feed(supplier_id)
    except PosError as exc:  # kept on the feed for staff; the next pull may work
        logger.warning("supplier feed refused", supplier_id=supplier_id, code=exc.code)
    except Exception:  # a bug must not end the schedule: the next pull is its retry
        logger.exception("supplier feed pull failed", supplier_id=supplier_id)
    interval = int(row["interval_minutes"])
    await _schedule(supplier_id, interval, datetime.now(UTC) + timedelta(minutes=interval))
