"""Fresh produce: near-expiry lists, writing off expired batches, shelf-life markdown rules.

Markdown rules change prices, so they are never deleted: each keeps who made it, when and why,
and retiring one stops it applying at once (`service.markdown_rules` reads only the others).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pos.catalog import service as catalog
from pos.db.keyed import once_per_key
from pos.errors import Conflict, InvalidInput, NotFound
from pos.inventory import batches, ledger, movements
from pos.inventory.ledger import Entry
from pos.inventory.schemas import BatchOut, MarkdownRuleIn, MarkdownRuleOut, MovementOut
from pos.inventory.tables import MarkdownRule

__all__ = ["add_rule", "expiring", "retire_rule", "rules", "write_off_batch"]

_R = MarkdownRule


async def expiring(store_id: int, within_hours: int) -> list[BatchOut]:
    """Batches expiring within the hours, soonest first; expired ones are flagged for write-off."""
    now = datetime.now(UTC)
    return await batches.expiring(store_id, now + timedelta(hours=within_hours), now)


async def write_off_batch(
    store_id: int, batch_id: int, *, reason: str, actor: str, idempotency_key: str | None
) -> MovementOut:
    """Write off what is left of a batch (spoiled, expired); a repeated key returns the first."""
    key = f"store:{store_id}:{idempotency_key}" if idempotency_key else None
    entry = Entry(actor, reason, f"batch:{batch_id}", idempotency_key=key)
    return await once_per_key(key, movements.by_key, lambda: _write_off(store_id, batch_id, entry))


async def _write_off(store_id: int, batch_id: int, entry: Entry) -> MovementOut:
    now = datetime.now(UTC)
    # Its remaining read once the product's stock row is locked: no sale takes from it since.
    product_id = (await batches.get(store_id, batch_id, now)).product_id
    await ledger.locked_level(store_id, product_id, now)
    batch = await batches.get(store_id, batch_id, now)
    if batch.remaining == 0:
        raise Conflict(f"batch {batch_id} has nothing left", code="batch_empty")
    return await ledger.move(
        store_id, product_id, -batch.remaining, "write_off", entry, batch_id=batch_id
    )


async def add_rule(store_id: int, data: MarkdownRuleIn, *, actor: str) -> MarkdownRuleOut:
    """A new markdown rule for the store, recording who made it, when and why."""
    if not data.reason:
        raise InvalidInput(
            "a markdown rule needs a reason: say why in 1 to 200 characters",
            code="markdown_reason_required",
        )
    if data.product_id is not None:
        await catalog.get_product(data.product_id)
    now = datetime.now(UTC)
    row = _R(
        store=store_id,
        product=data.product_id,
        within_hours=data.within_hours,
        percent=data.percent,
        reason=data.reason,
        created_by=actor,
        created_at=now,
    )
    rule_id = int((await _R.insert(row).returning(_R.id))[0]["id"])
    return MarkdownRuleOut(
        id=rule_id,
        store_id=store_id,
        **data.model_dump(),
        created_by=actor,
        created_at=now,
        retired_by="",
        retired_at=None,
    )


async def rules(store_id: int, *, include_retired: bool = False) -> list[MarkdownRuleOut]:
    """The store's markdown rules that apply, or all of them with the retired ones."""
    query = _R.select().where(_R.store == store_id)
    if not include_retired:
        query = query.where(_R.retired_at.is_null())
    return [
        MarkdownRuleOut(
            id=row["id"],
            store_id=store_id,
            product_id=row["product"],
            within_hours=row["within_hours"],
            percent=row["percent"],
            reason=row["reason"],
            created_by=row["created_by"],
            created_at=row["created_at"],
            retired_by=row["retired_by"],
            retired_at=row["retired_at"],
        )
        for row in await query.order_by(_R.id)
    ]


async def retire_rule(store_id: int, rule_id: int, *, actor: str) -> None:
    """Stop a rule of the store applying from now on; the row stays, with who retired it."""
    retired = (
        await _R.update({_R.retired_at: datetime.now(UTC), _R.retired_by: actor})
        .where((_R.id == rule_id) & (_R.store == store_id) & _R.retired_at.is_null())
        .returning(_R.id)
    )
    if not retired:
        raise NotFound(f"no markdown rule {rule_id} here", code="markdown_rule_not_found")
