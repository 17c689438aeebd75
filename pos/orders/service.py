"""Orders once created (see checkout.py): reading one, and moving it through its states.

Each step owns a write transaction, or joins the caller's (payments opens one around its own row
and `mark_paid`). Live listeners hear of a change after the commit: from here when the step owned
its transaction, otherwise from the caller, who calls `announce` after committing.
The hold expiry: creating an order writes an `order_hold_expiry` event due at `expires_at`; its
handler closes the order if it is still open. A paying order is left alone: the payments layer
asks the provider first, then calls `expire` (or `mark_paid`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pos import live
from pos.db import Statement, current_engine, write_transaction
from pos.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound
from pos.events import outbox
from pos.inventory import service as inventory
from pos.orders import records, returns
from pos.orders.records import locked_order, record_transition, sold_units
from pos.orders.schemas import OrderLineOut, OrderOut, TransitionOut
from pos.orders.states import OrderEvent, OrderState, Transition, transition
from pos.orders.tables import OrderLine
from pos.orders.tokens import order_access_token, token_matches
from pos.staff import service as staff
from pos.staff.actors import ROLE_NAMES
from pos.stores import service as stores

__all__ = [
    "HOLD_EXPIRY",
    "ORDER_PAID",
    "ORDER_REFUNDED",
    "Payable",
    "access_token",
    "announce",
    "cancel",
    "certified_lines_paid",
    "check_access",
    "expire",
    "get_order",
    "lock",
    "mark_paid",
    "on_hold_expiry",
    "order_history",
    "payment_failed",
    "read_order",
    "record_refund",
    "sale",
    "start_payment",
    "store_of",
    "transitions",
]

HOLD_EXPIRY = "order_hold_expiry"
ORDER_PAID = "order_paid"
ORDER_REFUNDED = "order_refunded"

_SETTLED = frozenset({OrderState.PAID, OrderState.PARTIALLY_REFUNDED, OrderState.REFUNDED})
_S = OrderState


def _in_transaction() -> bool:
    return bool(current_engine().transaction_exists())


async def announce(order_id: int, state: OrderState) -> None:
    """Tell live listeners and idle workers about a committed change; never raises."""
    outbox.notify()
    await live.publish_order(order_id, state)


async def get_order(order_id: int) -> OrderOut:
    """The order, for callers that already checked who may see it; NotFound if none."""
    return await records.order_out(await records.order_row(order_id))


async def check_access(order_id: int, token: str) -> OrderState:
    """The order's state, for the holder of its access token; 403 or 404 otherwise."""
    row = await records.order_access(order_id)
    _check_token(token, row)
    return _S(row["state"])


async def store_of(order_id: int) -> int:
    """The store the order was made at; NotFound if none."""
    return int((await records.order_access(order_id))["store_id"])


_SCOPE_KEY = Statement("SELECT idempotency_scope_key FROM orders WHERE id = {}")


async def access_token(order_id: int, *, secret: str) -> str:
    """The shopper's token to the order, the one its receipt's QR code carries; NotFound if none."""
    row = await _SCOPE_KEY.first(order_id)
    if row is None:
        raise NotFound(f"no order {order_id}", code="order_not_found")
    return order_access_token(row["idempotency_scope_key"], secret=secret)


def _check_token(token: str, row: dict[str, Any]) -> None:
    if not token_matches(token, row["access_token_hash"]):
        raise Forbidden("this link is not for this order", code="order_token_invalid")


async def certified_lines_paid(day: date) -> list[dict[str, Any]]:
    """The certified lines of orders sold on the store-local `day`, refunded since or not.

    The day is the one frozen at each sale, so a later change of a store's zone moves none.
    Each: `order_id`, `store_id` and the line's `total_fen`.
    """
    return await OrderLine.select(
        OrderLine.order.as_alias("order_id"),
        OrderLine.order._.store.as_alias("store_id"),
        OrderLine.total_fen,
    ).where(
        OrderLine.certified.eq(True)
        & OrderLine.order.state.is_in([state.value for state in _SETTLED])
        & (OrderLine.order.business_day == day)
    )


async def read_order(order_id: int, *, token: str | None, staff_session: str | None) -> OrderOut:
    """The order for its shopper (access token) or for staff of its store (session cookie)."""
    row = await records.order_row(order_id)
    if token is not None:
        _check_token(token, row)
    else:
        await _check_staff(staff_session, row)
    return await records.order_out(row)


async def order_history(order_id: int, *, staff_session: str | None) -> list[TransitionOut]:
    """Every transition of the order, with who, when and why, for staff of its store."""
    await _check_staff(staff_session, await records.order_access(order_id))
    return await transitions(order_id)


async def transitions(order_id: int) -> list[TransitionOut]:
    """Every transition of the order, oldest first, for a caller that checked access."""
    return await records.transitions(order_id)


async def _check_staff(session: str | None, row: dict[str, Any]) -> None:
    if session is None:
        raise NotAuthenticated("reading an order needs its token or a staff sign-in")
    actor = await staff.staff_for_session(session)
    if not actor.has_role(ROLE_NAMES, row["store_id"]):
        raise Forbidden("this order belongs to another store", code="other_store")


async def _change(
    row: dict[str, Any],
    event: OrderEvent,
    *,
    actor: str,
    reason: str = "",
    values: dict[str, Any] | None = None,
) -> tuple[Transition, int]:
    """Apply `event` to a locked order row, also setting `values` by column name, and record it.

    Returns the transition and its id.
    """
    before = _S(row["state"])
    result = transition(before, event)
    await records.set_state(row["id"], result.state, **(values or {}))
    recorded = await record_transition(
        row["id"], before, result.state, event, actor=actor, reason=reason
    )
    return result, recorded


@dataclass(frozen=True, slots=True)
class Payable:
    """What a payment of an order needs: its store, its total, until when, and its new state."""

    store_id: int
    total_fen: int
    expires_at: datetime
    state: OrderState


async def start_payment(order_id: int, *, actor: str = "payments", reason: str = "") -> Payable:
    """Open -> paying (again paying when the shopper switches wallets); refused once expired.

    A paid (or refunded) order is refused as such, never as expired: told to order again, a
    shopper whose paid screen was lost would pay twice. `actor` started the payment (a device,
    the shopper); `reason` names the payment (provider, method, its number).
    """
    owner = not _in_transaction()
    async with write_transaction():
        row = await locked_order(order_id)
        settled = _S(row["state"]) in _SETTLED
        if not settled and row["expires_at"] <= datetime.now(UTC):
            raise Conflict("the order has expired; start a new one", code="order_expired")
        result, _ = await _change(row, OrderEvent.PAYMENT_STARTED, actor=actor, reason=reason)
    if owner:
        await announce(order_id, result.state)
    return Payable(row["store_id"], row["total_fen"], row["expires_at"], result.state)


async def mark_paid(
    order_id: int,
    *,
    amount_fen: int,
    method: str,
    reference: str,
    payer_hash: str | None,
    paid_at: datetime,
) -> Transition:
    """Record a successful payment: the hold becomes a sale and one order_paid event is written.

    Joins the caller's transaction. A payment on a closed order, or a second one with another
    reference, changes nothing and says `refund_required`; the same payment again is a no-op.
    An amount other than the total is refused (Conflict amount_mismatch) before any write.
    """
    owner = not _in_transaction()
    async with write_transaction():
        row = await locked_order(order_id)
        before = _S(row["state"])
        if before in _SETTLED:
            return Transition(before, refund_required=row["payment_reference"] != reference)
        if before is _S.CLOSED:
            return transition(before, OrderEvent.PAYMENT_SUCCEEDED)
        if amount_fen != row["total_fen"]:
            raise Conflict(
                f"paid {amount_fen} fen for an order of {row['total_fen']} fen",
                code="amount_mismatch",
                expected_fen=row["total_fen"],
                paid_fen=amount_fen,
            )
        lines, changes, business_day = await records.certify_at_sale(
            row, await records.order_lines(order_id), at=datetime.now(UTC), paid_at=paid_at
        )
        paid = {
            "paid_at": paid_at,
            "business_day": business_day,
            "payment_method": method,
            "payment_reference": reference,
            "payer_hash": payer_hash,
        }
        result, _ = await _change(
            row,
            OrderEvent.PAYMENT_SUCCEEDED,
            actor="payments",
            reason=f"{method} {reference}{changes}",
            values=paid,
        )
        sold = {**row, **paid}
        await outbox.emit(ORDER_PAID, str(order_id), _paid_payload(sold, result.state, lines))
        # Last: other orders of these products wait for their stock rows until the commit.
        await inventory.commit_sale(
            row["store_id"], records.units_of(lines), reference=f"order:{order_id}"
        )
    if owner:
        await announce(order_id, result.state)
    return result


async def sale(order_id: int) -> dict[str, Any]:
    """A paid order as its `order_paid` event carries it, as it stands now (e.g. a late receipt)."""
    row = await records.order_row(order_id)
    return _paid_payload(row, OrderState(row["state"]), await records.order_lines(order_id))


def _paid_payload(
    row: dict[str, Any], state: OrderState, lines: list[OrderLineOut]
) -> dict[str, Any]:
    """What printing, the platform and analytics need of a sale: the order as sold, with the
    store-local `business_day` frozen when it was paid (None only for an order without lines).
    """
    sale = OrderOut(**{**row, "state": state}, lines=lines)
    day = row["business_day"]
    keep = {
        "payment_reference": row["payment_reference"],
        "payer_hash": row["payer_hash"],
        "business_day": day.isoformat() if day else None,
    }
    return {**sale.model_dump(mode="json", exclude={"access_token"}), **keep, "order_id": row["id"]}


async def lock(order_id: int) -> OrderState:
    """Lock the order until the caller's transaction ends: its state, which cannot change
    meanwhile."""
    return _S((await locked_order(order_id))["state"])


async def payment_failed(order_id: int, *, actor: str = "payments", reason: str = "") -> Transition:
    """Paying -> open: the shopper may try again until the hold expires.

    `actor` decided it (the provider's answer); `reason` names the payment and how it ended.

    The order's expiry event may have run while it was paying and left it to its payment (the
    worker's clock a moment ahead, or the failure applied just after): the reopened order gets
    an expiry event of its own, so no open order holds its stock for ever.
    """
    owner = not _in_transaction()
    async with write_transaction():
        row = await locked_order(order_id)
        result, transition_id = await _change(
            row, OrderEvent.PAYMENT_FAILED, actor=actor, reason=reason
        )
        key, payload = f"{order_id}:{transition_id}", {"order_id": order_id}
        await outbox.emit(HOLD_EXPIRY, key, payload, available_at=row["expires_at"])
    if owner:
        await announce(order_id, result.state)
    return result


_CLOSABLE = (_S.OPEN, _S.PAYING)


async def expire(
    order_id: int, *, reason: str = "hold expired", states: tuple[OrderState, ...] = _CLOSABLE
) -> Transition:
    """Open or paying (or only `states` of those) -> closed, releasing the hold.

    Any other state is left as it is, judged under the order's lock.
    """
    return await _close(order_id, OrderEvent.EXPIRED, actor="system", reason=reason, states=states)


async def cancel(order_id: int, *, actor: str) -> Transition:
    """Open or paying -> closed at the shopper's word, releasing the hold; else left as it is.

    A payment that lands on it afterwards is refunded, as any payment of a closed order.
    """
    reason = "cancelled by the shopper"
    return await _close(order_id, OrderEvent.CANCELLED, actor=actor, reason=reason)


async def _close(
    order_id: int,
    event: OrderEvent,
    *,
    actor: str,
    reason: str,
    states: tuple[OrderState, ...] = _CLOSABLE,
) -> Transition:
    owner = not _in_transaction()
    async with write_transaction():
        row = await locked_order(order_id)
        before = _S(row["state"])
        if before not in states:
            return Transition(before)
        await inventory.release(row["store_id"], await sold_units(order_id))
        result, _ = await _change(row, event, actor=actor, reason=reason)
    if owner:
        await announce(order_id, result.state)
    return result


async def on_hold_expiry(event: outbox.Event) -> None:
    """Outbox handler: close the order if it is still open when its hold ends.

    A paying one is left to its payment, which closes it once the provider has closed its side.
    """
    await expire(int(event.payload["order_id"]), states=(_S.OPEN,))


async def record_refund(
    order_id: int,
    *,
    amount_fen: int,
    restock: dict[int, int] | None,
    returned: dict[int, int] | None = None,
    actor: str = "payments",
    why: str = "",
    slip_printer_id: int | None = None,
    returned_at: datetime | None = None,
) -> Transition:
    """Paid -> partially refunded or refunded; `restock` puts returned goods back on the shelf.

    `returned` are the goods the refund pays for (None: those of `restock`): its fen are
    recorded on the lines they were sold on (`pos.orders.refund_shares`). `why` is the reason
    staff gave, kept with the transition; `slip_printer_id` is where they asked the refund slip
    to print (None: the sale's printer); `returned_at` is when the goods came back (None: now),
    which a stock count taken since has counted.

    Joins the caller's transaction and writes one `order_refunded` event per refund, with each
    line's share (`lines`: line_no, fen, units; lines without one left out).
    """
    back = restock or {}
    owner = not _in_transaction()
    async with write_transaction():
        row = await locked_order(order_id)
        event = _refund_event(row, amount_fen)
        transition(_S(row["state"]), event)  # refuse a wrong state before any write
        await returns.restock(row, back, actor=actor, why=why, returned_at=returned_at)
        paid_for = back if returned is None else returned
        shares = await returns.pay_back(order_id, amount_fen, paid_for)
        refunded, refunded_at = row["refunded_fen"] + amount_fen, datetime.now(UTC)
        values = {"refunded_fen": refunded, "restocked": records.restocked_after(row, back)}
        reason = f"{amount_fen} fen: {why}" if why else f"{amount_fen} fen"
        result, transition_id = await _change(row, event, actor=actor, reason=reason, values=values)
        # Frozen here: a later change of the store's zone moves no refund to another day.
        time_zone = ZoneInfo((await stores.store_rules(row["store_id"])).time_zone)
        payload = {
            "order_id": order_id,
            "store_id": row["store_id"],
            "amount_fen": amount_fen,
            "refunded_fen": refunded,
            "refunded_at": refunded_at.isoformat(),  # the platform's day, however late handled
            "business_day": refunded_at.astimezone(time_zone).date().isoformat(),
            "state": result.state,
            "restock": {str(product): units for product, units in back.items()},
            "returned": {str(product): units for product, units in paid_for.items()},
            "slip_printer_id": slip_printer_id,
            "lines": [
                {"line_no": share.line_no, "fen": share.fen, "units": share.units}
                for share in shares
            ],
        }
        await outbox.emit(ORDER_REFUNDED, f"{order_id}:{transition_id}", payload)
    if owner:
        await announce(order_id, result.state)
    return result


def _refund_event(row: dict[str, Any], amount_fen: int) -> OrderEvent:
    left = row["total_fen"] - row["refunded_fen"]
    if not 0 < amount_fen <= left:
        raise InvalidInput(
            f"a refund of {amount_fen} fen: {left} fen is left to refund on this order",
            code="refund_amount",
            refundable_fen=left,
        )
    return OrderEvent.REFUNDED_FULLY if amount_fen == left else OrderEvent.REFUNDED_PARTLY
