"""Orders API: create an order at a counter (shopper's phone) or a kiosk, and read it back."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import CookieParameter, FromPath, JSONBody, QueryParameter

from pos.db import RowId
from pos.idempotency import MAX_IDEMPOTENCY_KEY, MIN_ORDER_KEY, idempotency_key
from pos.orders import checkout
from pos.orders import service as orders
from pos.orders.budget import spend_order_try
from pos.orders.schemas import CounterOrderIn, OrderIn, OrderOut, TransitionOut
from pos.settings import Settings
from pos.staff.actors import DeviceActor
from pos.staff.guards import DEVICE_ACTOR, SESSION_COOKIE, device

__all__ = ["CounterOrderController", "KioskOrderController", "OrderController"]

OrderKey = Annotated[
    str,
    idempotency_key(
        min_length=MIN_ORDER_KEY,
        description=(
            f"a new random key per order ({MIN_ORDER_KEY} to {MAX_IDEMPOTENCY_KEY} characters,"
            " e.g. a UUID); a retry with the same key and body gets the first answer, access"
            " token included, so the key must not be guessable"
        ),
    ),
]


def _created(result: checkout.CreatedOrder) -> Response[OrderOut]:
    return Response(result.order, status_code=201 if result.created else 200)


class CounterOrderController(Controller):
    path = "/api/counters/{counter_id:int}/orders"
    tags = ("orders",)

    @post(operation_id="createCounterOrder", summary="Order from a shopper's phone at a counter")
    async def create(
        self,
        request: Request[Any, Any, Any],
        counter_id: FromPath[RowId],
        data: JSONBody[CounterOrderIn],
        idempotency_key: OrderKey,
        settings: NamedDependency[Settings],
    ) -> Response[OrderOut]:
        """201 with the order and its access token; 200 with the same body for a retry.

        429 `too_many_orders` once the client's address created its orders of the minute.
        """
        await spend_order_try(request, counter_id, idempotency_key)
        secret = settings.secret_key.get_secret_value()
        return _created(
            await checkout.create_counter_order(
                counter_id, data, idempotency_key=idempotency_key, secret=secret
            )
        )


class KioskOrderController(Controller):
    path = "/api/kiosk/orders"
    tags = ("orders",)
    guards = (device("kiosk"),)
    dependencies = {"kiosk": DEVICE_ACTOR}

    @post(operation_id="createKioskOrder", summary="Order from a self-checkout kiosk")
    async def create(
        self,
        data: JSONBody[OrderIn],
        idempotency_key: OrderKey,
        kiosk: NamedDependency[DeviceActor],
        settings: NamedDependency[Settings],
    ) -> Response[OrderOut]:
        """201 with the order and its access token; 200 with the same body for a retry."""
        secret = settings.secret_key.get_secret_value()
        return _created(
            await checkout.create_kiosk_order(
                kiosk, data, idempotency_key=idempotency_key, secret=secret
            )
        )


class OrderController(Controller):
    path = "/api/orders"
    tags = ("orders",)

    @get("/{order_id:int}", operation_id="getOrder", summary="An order, for its shopper or staff")
    async def read(
        self,
        order_id: FromPath[RowId],
        token: Annotated[
            str | None, QueryParameter(description="the access token from the create answer")
        ] = None,
        staff_session: Annotated[str | None, CookieParameter(name=SESSION_COOKIE)] = None,
    ) -> OrderOut:
        """With `?token=` (the shopper), or a staff sign-in at the order's store."""
        return await orders.read_order(order_id, token=token, staff_session=staff_session)

    @get(
        "/{order_id:int}/history",
        operation_id="getOrderHistory",
        summary="Every transition of an order, with who, when and why",
    )
    async def history(
        self,
        order_id: FromPath[RowId],
        staff_session: Annotated[str | None, CookieParameter(name=SESSION_COOKIE)] = None,
    ) -> list[TransitionOut]:
        """For staff of the order's store."""
        return await orders.order_history(order_id, staff_session=staff_session)
