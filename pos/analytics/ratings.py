"""Comments and ratings: a buyer rates each line of a paid order once; managers hide or show them.

A rating is written with one `rating_submitted` outbox event (key: the rating id) for the
platform, and each change of its visibility with one `rating_moderated` event (key: the
moderation id); their payloads are documented in docs/analytics.md. Sending the same rating
again is harmless (the answer is the same); a different rating of a rated line is refused.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pos.analytics.schemas import (
    ModerationIn,
    ProductRatingOut,
    PublicRatingOut,
    PublicRatingsOut,
    RatingIn,
    RatingOut,
    RatingsIn,
)
from pos.analytics.sql import fetch, id_list
from pos.analytics.tables import Rating, RatingModeration
from pos.catalog.tables import Product
from pos.db import write_transaction
from pos.errors import Conflict, Forbidden, InvalidInput, NotFound
from pos.events import outbox
from pos.orders import service as orders
from pos.orders.schemas import OrderLineOut, OrderOut
from pos.orders.states import OrderState
from pos.staff.actors import StaffActor
from pos.stores import service as stores

__all__ = [
    "LATEST",
    "MAX_LISTED",
    "RATING_MODERATED",
    "RATING_SUBMITTED",
    "list_ratings",
    "moderate",
    "order_ratings",
    "product_averages",
    "public_ratings",
    "submit",
]

RATING_SUBMITTED = "rating_submitted"
RATING_MODERATED = "rating_moderated"
MAX_LISTED = 200
LATEST = 20
_RATABLE = (OrderState.PAID, OrderState.PARTIALLY_REFUNDED)
_R = Rating
_COLUMNS = (
    _R.id,
    _R.order.as_alias("order_id"),
    _R.line_no,
    _R.product.as_alias("product_id"),
    _R.store.as_alias("store_id"),
    _R.stars,
    _R.comment,
    _R.hidden,
    _R.created_at,
)


async def submit(order_id: int, token: str, data: RatingsIn) -> list[RatingOut]:
    """Rate lines of a paid order, for the holder of its access token."""
    if await orders.check_access(order_id, token) not in _RATABLE:
        raise Conflict("only a paid order can be rated", code="order_not_paid")
    order = await orders.get_order(order_id)
    lines = {line.line_no: line for line in order.lines}
    _check_lines(data.ratings, lines)
    async with write_transaction():
        time_zone = await _time_zone(order.store_id)
        for rating in data.ratings:
            await _rate(order, lines[rating.line_no], rating, time_zone)
    outbox.notify()
    return await _ratings_of(order_id)


def _check_lines(ratings: list[RatingIn], lines: dict[int, OrderLineOut]) -> None:
    seen: set[int] = set()
    for rating in ratings:
        if rating.line_no not in lines:
            raise InvalidInput(
                f"the order has no line {rating.line_no}",
                code="no_such_line",
                line_no=rating.line_no,
            )
        if rating.line_no in seen:
            raise InvalidInput(
                f"line {rating.line_no} is rated twice", code="line_twice", line_no=rating.line_no
            )
        seen.add(rating.line_no)


async def _rate(order: OrderOut, line: OrderLineOut, rating: RatingIn, time_zone: ZoneInfo) -> None:
    comment = rating.comment.strip()
    row = Rating(
        order=order.id,
        line_no=line.line_no,
        product=line.product_id,
        store=order.store_id,
        stars=rating.stars,
        comment=comment,
        created_at=datetime.now(UTC),
    )
    # A concurrent rating of the same line loses to the unique index instead of failing.
    inserted = await _R.insert(row).on_conflict(action="DO NOTHING").returning(_R.id)
    if not inserted:
        before = await _R.select(_R.stars, _R.comment).where(
            (_R.order == order.id) & (_R.line_no == line.line_no)
        )
        if before and (before[0]["stars"], before[0]["comment"]) != (rating.stars, comment):
            raise Conflict(
                f"line {line.line_no} is rated already", code="already_rated", line_no=line.line_no
            )
        return
    at, day = row.created_at, row.created_at.astimezone(time_zone).date()
    payload = _submitted(int(inserted[0]["id"]), order, line, rating.stars, comment, at, day)
    await outbox.emit(RATING_SUBMITTED, str(inserted[0]["id"]), payload)


def _submitted(
    rating_id: int,
    order: OrderOut,
    line: OrderLineOut,
    stars: int,
    comment: str,
    at: datetime,
    day: date,
) -> dict[str, Any]:
    """The `rating_submitted` payload; `day` is the event's store-local day, frozen when it is
    written so that a later change of the store's zone moves it to no other day.
    """
    return {
        "rating_id": rating_id,
        "order_id": order.id,
        "order_number": order.number,
        "store_id": order.store_id,
        "line_no": line.line_no,
        "product_id": line.product_id,
        "certificate_no": line.certificate_no,
        "certified": line.certified,
        "origin_county_code": line.origin_county_code,
        "supplier_id": line.supplier_id,
        "stars": stars,
        "comment": comment,
        "submitted_at": at.isoformat(),
        "business_day": day.isoformat(),
    }


async def _ratings_of(order_id: int) -> list[RatingOut]:
    rows = await _R.select(*_COLUMNS).where(_R.order == order_id).order_by(_R.line_no)
    return [RatingOut(**row) for row in rows]


async def order_ratings(order_id: int, token: str) -> list[RatingOut]:
    """The order's ratings, for the holder of its access token."""
    await orders.check_access(order_id, token)
    return await _ratings_of(order_id)


async def list_ratings(
    store_ids: tuple[int, ...], *, product_id: int | None, hidden: bool | None
) -> list[RatingOut]:
    """The newest ratings at these stores, for moderation."""
    where: Any = _R.store.is_in(list(store_ids))
    if product_id is not None:
        where &= _R.product == product_id
    if hidden is not None:
        where &= _R.hidden == hidden
    rows = (
        await _R.select(*_COLUMNS).where(where).order_by(_R.id, ascending=False).limit(MAX_LISTED)
    )
    return [RatingOut(**row) for row in rows]


async def moderate(actor: StaffActor, rating_id: int, data: ModerationIn) -> RatingOut:
    """Hide or show a rating, recording who did it and why (a manager of its store)."""
    row = await _rating_row(rating_id)
    if not actor.has_role(("manager",), row["store_id"]):
        raise Forbidden("this rating is of another store's sale", code="other_store")
    order = await orders.get_order(row["order_id"])
    async with write_transaction():
        # Conditional: only a real change is sent. A concurrent moderation waits for this row's
        # lock, so moderation ids (the platform's revisions) follow the order of the changes.
        changed = (
            await _R.update({_R.hidden: data.hidden})
            .where((_R.id == rating_id) & (_R.hidden != data.hidden))
            .returning(_R.id)
        )
        record = RatingModeration(
            rating=rating_id,
            hidden=data.hidden,
            actor=actor.username[:64],
            reason=data.reason,
            at=datetime.now(UTC),
        )
        moderation = await RatingModeration.insert(record).returning(RatingModeration.id)
        if changed:
            moderation_id = int(moderation[0]["id"])
            day = record.at.astimezone(await _time_zone(row["store_id"])).date()
            payload = _moderated(row, order, moderation_id, data.hidden, record.at, day)
            await outbox.emit(RATING_MODERATED, str(moderation_id), payload)
    outbox.notify()
    return RatingOut(**{**row, "hidden": data.hidden})


def _moderated(
    row: dict[str, Any],
    order: OrderOut,
    moderation_id: int,
    hidden: bool,
    at: datetime,
    day: date,
) -> dict[str, Any]:
    """The `rating_moderated` payload; its `business_day` is the moderation's."""
    line = next(line for line in order.lines if line.line_no == row["line_no"])
    stars, comment = row["stars"], row["comment"]
    submitted = _submitted(row["id"], order, line, stars, comment, row["created_at"], day)
    return {
        **submitted,
        "moderation_id": moderation_id,
        "hidden": hidden,
        "moderated_at": at.isoformat(),
    }


async def _time_zone(store_id: int) -> ZoneInfo:
    return ZoneInfo((await stores.store_rules(store_id)).time_zone)


async def _rating_row(rating_id: int) -> dict[str, Any]:
    row: dict[str, Any] | None = await _R.select(*_COLUMNS).where(_R.id == rating_id).first()
    if row is None:
        raise NotFound(f"no rating {rating_id}", code="rating_not_found")
    return row


async def product_averages(store_ids: tuple[int, ...]) -> list[ProductRatingOut]:
    """Average stars per product rated at these stores; hidden ratings are left out."""
    rows = await fetch(
        "SELECT product AS p, SUM(CASE WHEN hidden THEN 0 ELSE 1 END) AS shown, "  # noqa: S608 (integer ids)
        "SUM(CASE WHEN hidden THEN 0 ELSE stars END) AS stars, "
        "SUM(CASE WHEN hidden THEN 1 ELSE 0 END) AS hidden "
        f"FROM rating WHERE store IN {id_list(store_ids)} GROUP BY product "
        f"ORDER BY shown DESC, product LIMIT {MAX_LISTED}"
    )
    ids = [row["p"] for row in rows]
    names = (
        {
            r["id"]: r["name_zh"]
            for r in await Product.select(Product.id, Product.name_zh).where(Product.id.is_in(ids))
        }
        if ids
        else {}
    )
    return [
        ProductRatingOut(
            product_id=row["p"],
            name=names.get(row["p"], ""),
            ratings=row["shown"],
            average_stars=round(row["stars"] / row["shown"], 2) if row["shown"] else None,
            hidden=row["hidden"],
        )
        for row in rows
    ]


async def public_ratings(product_id: int) -> PublicRatingsOut:
    """What shoppers see of a product's ratings: the average and the latest shown comments."""
    shown = (_R.product == product_id) & (_R.hidden == False)  # noqa: E712 (SQL, not Python)
    totals = await fetch(
        "SELECT COUNT(*) AS n, COALESCE(SUM(stars), 0) AS stars FROM rating "
        "WHERE product = {} AND NOT hidden",
        product_id,
    )
    latest = (
        await _R.select(_R.stars, _R.comment, _R.created_at)
        .where(shown & (_R.comment != ""))
        .order_by(_R.id, ascending=False)
        .limit(LATEST)
    )
    count, stars = int(totals[0]["n"]), int(totals[0]["stars"])
    return PublicRatingsOut(
        product_id=product_id,
        ratings=count,
        average_stars=round(stars / count, 2) if count else None,
        latest=[PublicRatingOut(**row) for row in latest],
    )
