"""Fresh produce: near-expiry lists, writing off expired batches, shelf-life markdown rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pos.catalog import service as catalog
from pos.db import write_transaction
from pos.errors import Conflict, NotFound
from pos.inventory import batches, ledger
from pos.inventory.ledger import Entry
from pos.inventory.schemas import BatchOut, MarkdownRuleIn, MarkdownRuleOut, MovementOut
from pos.inventory.tables import MarkdownRule

__all__ = ["add_rule", "delete_rule", "expiring", "rules", "write_off_batch"]

_R = MarkdownRule


async def expiring(store_id: int, within_hours: int) -> list[BatchOut]:
    """Batches expiring within the hours, soonest first; expired ones are flagged for write-off."""
    now = datetime.now(UTC)
    return await batches.expiring(store_id, now + timedelta(hours=within_hours), now)


async def write_off_batch(store_id: int, batch_id: int, *, reason: str, actor: str) -> MovementOut:
    """Write off what is left of a batch (spoiled, expired)."""
    now = datetime.now(UTC)
    async with write_transaction():
        # Its remaining read once the product's stock row is locked: no sale takes from it since.
        product_id = (await batches.get(store_id, batch_id, now)).product_id
        await ledger.locked_level(store_id, product_id, now)
        batch = await batches.get(store_id, batch_id, now)
        if batch.remaining == 0:
            raise Conflict(f"batch {batch_id} has nothing left", code="batch_empty")
        entry = Entry(actor, reason, f"batch:{batch_id}")
        written = await ledger.move(
            store_id, batch.product_id, -batch.remaining, "write_off", entry, batch_id=batch_id
        )
    return written  # noqa: RET504 (mypy: a returning `async with` may swallow the exception)


async def add_rule(store_id: int, data: MarkdownRuleIn) -> MarkdownRuleOut:
    """A new markdown rule for the store."""
    if data.product_id is not None:
        await catalog.get_product(data.product_id)
    row = _R(
        store=store_id,
        product=data.product_id,
        within_hours=data.within_hours,
        percent=data.percent,
    )
    rule_id = int((await _R.insert(row).returning(_R.id))[0]["id"])
    return MarkdownRuleOut(id=rule_id, store_id=store_id, **data.model_dump())


async def rules(store_id: int) -> list[MarkdownRuleOut]:
    """The store's markdown rules."""
    rows = await _R.select().where(_R.store == store_id).order_by(_R.id)
    return [
        MarkdownRuleOut(
            id=row["id"],
            store_id=store_id,
            product_id=row["product"],
            within_hours=row["within_hours"],
            percent=row["percent"],
        )
        for row in rows
    ]


async def delete_rule(store_id: int, rule_id: int) -> None:
    """Remove a markdown rule of the store."""
    deleted = await _R.delete().where((_R.id == rule_id) & (_R.store == store_id)).returning(_R.id)
    if not deleted:
        raise NotFound(f"no markdown rule {rule_id} here", code="markdown_rule_not_found")
