"""The order state machine: allowed transitions, forbidden ones, and surplus payments."""

from __future__ import annotations

import itertools

import pytest

from pos.errors import Conflict
from pos.orders.states import (
    TRANSITIONS,
    OrderEvent,
    OrderState,
    Transition,
    allowed_events,
    transition,
)

S, E = OrderState, OrderEvent


def walk(state: OrderState, *events: OrderEvent) -> OrderState:
    for event in events:
        state = transition(state, event).state
    return state


def test_an_order_is_paid_then_refunded_in_parts_then_fully() -> None:
    steps = (E.PAYMENT_STARTED, E.PAYMENT_SUCCEEDED, E.REFUNDED_PARTLY, E.REFUNDED_PARTLY)
    assert walk(S.OPEN, *steps) == S.PARTIALLY_REFUNDED
    assert walk(S.OPEN, *steps, E.REFUNDED_FULLY) == S.REFUNDED


def test_a_failed_payment_reopens_the_order_for_another_try() -> None:
    assert walk(S.OPEN, E.PAYMENT_STARTED, E.PAYMENT_FAILED) == S.OPEN
    assert walk(S.OPEN, E.PAYMENT_STARTED, E.PAYMENT_FAILED, E.PAYMENT_STARTED) == S.PAYING


def test_a_shopper_may_start_a_second_payment_while_paying() -> None:
    assert transition(S.PAYING, E.PAYMENT_STARTED) == Transition(S.PAYING)


@pytest.mark.parametrize("state", [S.OPEN, S.PAYING])
@pytest.mark.parametrize("event", [E.EXPIRED, E.CANCELLED])
def test_an_unpaid_order_closes_when_it_expires_or_is_cancelled(
    state: OrderState, event: OrderEvent
) -> None:
    assert transition(state, event) == Transition(S.CLOSED)


def test_a_payment_landing_on_a_closed_order_keeps_it_closed_and_requires_a_refund() -> None:
    assert transition(S.CLOSED, E.PAYMENT_SUCCEEDED) == Transition(S.CLOSED, refund_required=True)


@pytest.mark.parametrize("state", [S.PAID, S.PARTIALLY_REFUNDED, S.REFUNDED])
def test_a_second_payment_on_a_paid_order_requires_a_refund(state: OrderState) -> None:
    assert transition(state, E.PAYMENT_SUCCEEDED) == Transition(state, refund_required=True)


@pytest.mark.parametrize("state", [S.OPEN, S.PAYING])
def test_a_payment_on_an_unpaid_order_pays_it_without_refund(state: OrderState) -> None:
    assert transition(state, E.PAYMENT_SUCCEEDED) == Transition(S.PAID)


def test_a_refund_is_required_only_for_payments_that_change_nothing() -> None:
    for (state, event), result in TRANSITIONS.items():
        if result.refund_required:
            assert (event, result.state) == (E.PAYMENT_SUCCEEDED, state)


def test_the_provider_reporting_a_closed_payment_as_failed_changes_nothing() -> None:
    assert transition(S.CLOSED, E.PAYMENT_FAILED) == Transition(S.CLOSED)


def test_a_paid_order_cannot_expire() -> None:
    with pytest.raises(Conflict) as caught:
        transition(S.PAID, E.EXPIRED)
    assert (caught.value.code, caught.value.status) == ("order_state", 409)
    assert caught.value.detail == (
        "an order that is paid cannot take expired "
        "(it can take: payment_succeeded, refunded_fully, refunded_partly)"
    )
    assert caught.value.extra == {"state": "paid", "event": "expired"}


@pytest.mark.parametrize(
    ("state", "event"),
    [
        (S.OPEN, E.REFUNDED_PARTLY),
        (S.OPEN, E.PAYMENT_FAILED),
        (S.CLOSED, E.PAYMENT_STARTED),
        (S.CLOSED, E.EXPIRED),
        (S.CLOSED, E.REFUNDED_FULLY),
        (S.PAID, E.CANCELLED),
        (S.PAID, E.PAYMENT_STARTED),
        (S.REFUNDED, E.REFUNDED_PARTLY),
        (S.REFUNDED, E.REFUNDED_FULLY),
        (S.PARTIALLY_REFUNDED, E.EXPIRED),
    ],
)
def test_forbidden_transitions_are_conflicts(state: OrderState, event: OrderEvent) -> None:
    with pytest.raises(Conflict, match=f"is {state} cannot take {event}"):
        transition(state, event)


def test_every_pair_outside_the_table_is_refused() -> None:
    for state, event in itertools.product(OrderState, OrderEvent):
        if (state, event) not in TRANSITIONS:
            with pytest.raises(Conflict):
                transition(state, event)


def test_every_state_is_reachable_from_open() -> None:
    reached, frontier = {S.OPEN}, [S.OPEN]
    while frontier:
        state = frontier.pop()
        for event in allowed_events(state):
            target = transition(state, event).state
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == set(OrderState)


def test_a_refunded_order_only_takes_a_surplus_payment() -> None:
    assert allowed_events(S.REFUNDED) == {E.PAYMENT_SUCCEEDED}


def test_states_and_events_are_stored_as_their_plain_names() -> None:
    assert [str(s) for s in OrderState] == [
        "open",
        "paying",
        "paid",
        "closed",
        "partially_refunded",
        "refunded",
    ]
    assert transition(OrderState("open"), OrderEvent("payment_started")).state == "paying"
