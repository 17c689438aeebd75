"""Supplier stock sync: stock levels and shipment notices pushed by suppliers (or pulled: feeds.py).

A push or a feed is checked whole before anything is written: one bad line refuses all of it,
naming each bad line and why. Each product's stock is kept as of the supplier's own timestamp,
so an update not newer than what we hold is ignored: repeats are harmless and a late update
never overwrites a newer one. Notices are versioned the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from piccolo.engine.sqlite import SQLiteEngine
from piccolo.query import WhereRaw
from pydantic import ValidationError

from pos.catalog import service as catalog
from pos.db import current_engine, write_transaction
from pos.errors import InvalidInput
from pos.inventory import signing
from pos.inventory.sync_schemas import StockPushIn, StockUpdateIn, SyncResultOut
from pos.inventory.tables import SupplierStock
from pos.nul_guard import holds_nul
from pos.staff import supplier_keys
from pos.staff.actors import SupplierActor

__all__ = [
    "Problem",
    "apply_updates",
    "parse_push",
    "push_stock",
    "refused",
    "validation_problems",
    "verified_body",
]

_SS = SupplierStock
# SQLite binds at most 32,766 parameters per statement: 5 per row, 1 per certificate.
_LOOKUP_CHUNK = 5_000
# On PostgreSQL one statement over arrays does it all: building 100,000 rows as Piccolo
# objects and query strings takes far longer than the database needs.
_PG_UPSERT = """
INSERT INTO supplier_stock (supplier, product, available, supplier_updated_at, received_at)
SELECT {}, u.product, u.available, u.updated_at, {}
FROM unnest({}::integer[], {}::integer[], {}::timestamptz[]) AS u(product, available, updated_at)
ON CONFLICT (supplier, product) DO UPDATE SET
    available = EXCLUDED.available,
    supplier_updated_at = EXCLUDED.supplier_updated_at,
    received_at = EXCLUDED.received_at
WHERE supplier_stock.supplier_updated_at < EXCLUDED.supplier_updated_at
RETURNING id
"""
_MAX_LISTED = 100


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a line of a push or a feed was refused; line 0: the document as a whole."""

    line: int
    reason: str


def refused(problems: Sequence[Problem], what: str = "the update") -> InvalidInput:
    """The error that refuses a whole push or feed, listing (up to 100 of) its problems."""
    return InvalidInput(
        f"{what} was refused whole: {len(problems)} problem(s); nothing was changed",
        code="supplier_update_invalid",
        errors=[{"line": p.line, "reason": p.reason} for p in problems[:_MAX_LISTED]],
    )


def validation_problems(exc: ValidationError, *, list_field: str, first_line: int) -> list[Problem]:
    """Pydantic's errors as numbered lines: item i of `list_field` is line `first_line + i`."""
    problems = []
    for error in exc.errors():
        loc = error["loc"]
        if len(loc) >= 2 and loc[0] == list_field and isinstance(loc[1], int):
            field = ".".join(str(part) for part in loc[2:])
            problems.append(Problem(first_line + loc[1], f"{field}: {error['msg']}"))
        else:
            where = ".".join(str(part) for part in loc)
            problems.append(Problem(0, f"{where}: {error['msg']}" if where else error["msg"]))
    return problems


def parse_push(body: bytes) -> list[StockUpdateIn]:
    """The updates of a JSON body `{"updates": [...]}`; line n is the n-th update."""
    try:
        return StockPushIn.model_validate_json(body).updates
    except ValidationError as exc:
        raise refused(validation_problems(exc, list_field="updates", first_line=1)) from None


async def verified_body(actor: SupplierActor, headers: Mapping[str, str], body: bytes) -> bytes:
    """The body, once its signature by the actor's key is checked."""
    secret = await supplier_keys.supplier_signing_secret(actor.key_id)
    signing.check_signed(secret, headers, body, datetime.now(UTC))
    if holds_nul(body):  # whatever its Content-Type says: PostgreSQL's text holds no NUL
        raise refused([Problem(0, "the body holds a NUL character")], "the push")
    return body


async def push_stock(
    actor: SupplierActor, headers: Mapping[str, str], body: bytes
) -> SyncResultOut:
    """A supplier's signed push of stock levels."""
    updates = parse_push(await verified_body(actor, headers, body))
    return await apply_updates(actor.supplier_id, updates)


async def apply_updates(
    supplier_id: int,
    updates: Sequence[StockUpdateIn],
    *,
    lines: Sequence[int] | None = None,
) -> SyncResultOut:
    """Apply updates newer than what we hold, all in one transaction; refuse all on a bad one.

    `lines` are the updates' lines in their document, as the supplier sees them (a CSV reader's
    `line_num`: blank lines and quoted line breaks count); by default update n is line n.
    """
    ids = await catalog.supplier_product_ids(supplier_id, (u.certificate_no for u in updates))
    numbers = range(1, len(updates) + 1) if lines is None else lines
    problems = [
        Problem(line, f"certificate {u.certificate_no} is not a product of yours")
        for line, u in zip(numbers, updates, strict=True)
        if u.certificate_no not in ids
    ]
    problems += _contradictions(updates, numbers)
    if problems:
        raise refused(problems)
    latest = _latest_per_product(updates, ids)
    upsert = _sqlite_upsert if _on_sqlite() else _pg_upsert
    async with write_transaction():
        applied = await upsert(supplier_id, latest, datetime.now(UTC))
    return SyncResultOut(received=len(updates), applied=applied, stale=len(updates) - applied)


def _contradictions(updates: Sequence[StockUpdateIn], numbers: Sequence[int]) -> list[Problem]:
    """Lines giving a product another level than an earlier line at the same time: which one
    holds cannot be told, so neither is taken."""
    first: dict[tuple[str, datetime], tuple[int, int]] = {}
    problems = []
    for line, update in zip(numbers, updates, strict=True):
        said = first.setdefault(
            (update.certificate_no, update.updated_at), (line, update.available)
        )
        if said[1] != update.available:
            problems.append(
                Problem(
                    line,
                    f"certificate {update.certificate_no} at {update.updated_at.isoformat()}:"
                    f" available {update.available}, but {said[1]} on line {said[0]}",
                )
            )
    return problems


def _latest_per_product(
    updates: Sequence[StockUpdateIn], ids: Mapping[str, int]
) -> dict[int, StockUpdateIn]:
    # One statement may not touch a row twice: the newest update of a product stands for it.
    latest: dict[int, StockUpdateIn] = {}
    for update in updates:
        product_id = ids[update.certificate_no]
        known = latest.get(product_id)
        if known is None or update.updated_at > known.updated_at:
            latest[product_id] = update
    return latest


def _on_sqlite() -> bool:
    return isinstance(current_engine(), SQLiteEngine)


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def _pg_upsert(supplier_id: int, latest: Mapping[int, StockUpdateIn], now: datetime) -> int:
    products = list(latest)
    available = [latest[pid].available for pid in products]
    updated_at = [latest[pid].updated_at for pid in products]
    changed = await _SS.raw(_PG_UPSERT, supplier_id, now, products, available, updated_at)
    return len(changed)


async def _sqlite_upsert(
    supplier_id: int, latest: Mapping[int, StockUpdateIn], now: datetime
) -> int:
    applied = 0
    for chunk in _chunks(list(latest.items()), _LOOKUP_CHUNK):
        applied += await _upsert_rows(supplier_id, chunk, now)
    return applied


async def _upsert_rows(
    supplier_id: int, chunk: Sequence[tuple[int, StockUpdateIn]], now: datetime
) -> int:
    rows = [
        _SS(
            supplier=supplier_id,
            product=product_id,
            available=update.available,
            supplier_updated_at=update.updated_at,
            received_at=now,
        )
        for product_id, update in chunk
    ]
    changed = (
        await _SS.insert(*rows)
        .on_conflict(
            target=(_SS.supplier, _SS.product),
            action="DO UPDATE",
            values=[_SS.available, _SS.supplier_updated_at, _SS.received_at],
            where=WhereRaw("supplier_stock.supplier_updated_at < EXCLUDED.supplier_updated_at"),
        )
        .returning(_SS.id)
    )
    return len(changed)
