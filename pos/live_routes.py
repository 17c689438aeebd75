"""GET /api/orders/{order_id}/events: an order's live status as server-sent events."""

from __future__ import annotations

from functools import partial

from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import ServerSentEvent

from pos.db import RowId
from pos.live import LiveChannels
from pos.orders import service as orders

__all__ = ["order_events"]


@get(
    "/api/orders/{order_id:int}/events",
    operation_id="orderEvents",
    summary="Live order status (server-sent events)",
    tags=["orders"],
)
async def order_events(
    order_id: FromPath[RowId], token: FromQuery[str], channels: NamedDependency[LiveChannels]
) -> ServerSentEvent:
    """`status` events: the state now, then each change until paid, closed or refunded."""
    await orders.check_access(order_id, token)  # refuse before the stream starts
    return ServerSentEvent(
        channels.order_stream(order_id, partial(orders.check_access, order_id, token))
    )
