"""The order state machine: the states, the events, and the table of allowed transitions.

A payment that succeeds where no payment is expected (the order is closed, already paid or
refunded) is legal, because the money has moved and must not be lost: the state stays as it is and
the transition says `refund_required`, which the payments layer turns into an automatic refund.
`transition` returns that flag beside the new state so no caller can miss it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from pos.errors import Conflict

__all__ = ["TRANSITIONS", "OrderEvent", "OrderState", "Transition", "allowed_events", "transition"]


class OrderState(StrEnum):
    """Where an order is; stored as its value."""

    OPEN = "open"  # created, stock held, awaiting payment
    PAYING = "paying"  # a payment is in progress
    PAID = "paid"
    CLOSED = "closed"  # expired or cancelled before payment
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"  # fully


class OrderEvent(StrEnum):
    """What happens to an order."""

    PAYMENT_STARTED = "payment_started"
    PAYMENT_SUCCEEDED = "payment_succeeded"
    PAYMENT_FAILED = "payment_failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    REFUNDED_PARTLY = "refunded_partly"
    REFUNDED_FULLY = "refunded_fully"


@dataclass(frozen=True, slots=True)
class Transition:
    """The state after an event, and whether the payment that caused it must be refunded."""

    state: OrderState
    refund_required: bool = False


_S, _E = OrderState, OrderEvent
_SURPLUS_PAYMENT = {
    (state, _E.PAYMENT_SUCCEEDED): Transition(state, refund_required=True)
    for state in (_S.CLOSED, _S.PAID, _S.PARTIALLY_REFUNDED, _S.REFUNDED)
}

TRANSITIONS: MappingProxyType[tuple[OrderState, OrderEvent], Transition] = MappingProxyType(
    {
        (_S.OPEN, _E.PAYMENT_STARTED): Transition(_S.PAYING),
        # A success may find the order open again when an earlier attempt failed meanwhile.
        (_S.OPEN, _E.PAYMENT_SUCCEEDED): Transition(_S.PAID),
        (_S.OPEN, _E.EXPIRED): Transition(_S.CLOSED),
        (_S.OPEN, _E.CANCELLED): Transition(_S.CLOSED),
        # A shopper may switch wallets: a second attempt while the first is still open.
        (_S.PAYING, _E.PAYMENT_STARTED): Transition(_S.PAYING),
        (_S.PAYING, _E.PAYMENT_SUCCEEDED): Transition(_S.PAID),
        (_S.PAYING, _E.PAYMENT_FAILED): Transition(_S.OPEN),
        # The payments layer closes the provider payment first; if it lands anyway, it is
        # a surplus payment below.
        (_S.PAYING, _E.EXPIRED): Transition(_S.CLOSED),
        (_S.PAYING, _E.CANCELLED): Transition(_S.CLOSED),
        # Closing an order closes its provider payment, which then reports as failed.
        (_S.CLOSED, _E.PAYMENT_FAILED): Transition(_S.CLOSED),
        (_S.PAID, _E.REFUNDED_PARTLY): Transition(_S.PARTIALLY_REFUNDED),
        (_S.PAID, _E.REFUNDED_FULLY): Transition(_S.REFUNDED),
        (_S.PARTIALLY_REFUNDED, _E.REFUNDED_PARTLY): Transition(_S.PARTIALLY_REFUNDED),
        (_S.PARTIALLY_REFUNDED, _E.REFUNDED_FULLY): Transition(_S.REFUNDED),
        **_SURPLUS_PAYMENT,
    }
)


def allowed_events(state: OrderState) -> frozenset[OrderEvent]:
    """The events an order in `state` accepts."""
    return frozenset(event for (source, event) in TRANSITIONS if source == state)


def transition(current: OrderState, event: OrderEvent) -> Transition:
    """The transition `event` makes from `current`; `Conflict` (code `order_state`) if forbidden."""
    found = TRANSITIONS.get((current, event))
    if found is None:
        allowed = ", ".join(sorted(allowed_events(current))) or "none"
        raise Conflict(
            f"an order that is {current} cannot take {event} (it can take: {allowed})",
            code="order_state",
            state=str(current),
            event=str(event),
        )
    return found
