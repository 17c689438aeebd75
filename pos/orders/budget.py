"""Orders a client address may create at counters per minute: `Settings.order_budget`.

A counter's QR code is public: without a budget, a script could hold a counter's whole stock
again every hold period, and real shoppers would find it sold out. Tries are counted as
`pos.budgets` counts them (an IPv6 client by its /64), before any pricing or stock hold.
Kiosks and staff devices sign in with device tokens, sit behind a store's NAT and are not counted.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from redis.asyncio import Redis

from pos.budgets import Budget, client_budget_key, create_budget
from pos.errors import TooManyRequests
from pos.orders import checkout
from pos.settings import Settings

__all__ = ["STATE_KEY", "WINDOW_SECONDS", "create_order_budget", "spend_order_try"]

WINDOW_SECONDS = 60
STATE_KEY = "order_budget"  # where create_app puts the order Budget in the app state


def create_order_budget(redis: Redis | None, *, prefix: str) -> Budget:
    """Counted in Redis when a client is given (shared by all servers), in-process otherwise."""
    return create_budget(
        redis, prefix=prefix, namespace="counter_orders", window_seconds=WINDOW_SECONDS
    )


async def spend_order_try(
    connection: ASGIConnection[Any, Any, Any, Any], counter_id: int, idempotency_key: str
) -> None:
    """Count a phone's order from the client's address; `TooManyRequests` past the budget.

    A retry of an order already created gets through: it creates nothing.
    """
    settings: Settings = connection.app.state["settings"]
    if settings.order_budget == 0:
        return
    budget: Budget = connection.app.state[STATE_KEY]
    tries = await budget.count_try(client_budget_key(connection))
    if tries.spent <= settings.order_budget:
        return
    if not await checkout.counter_order_exists(counter_id, idempotency_key):
        raise TooManyRequests(
            f"more than {settings.order_budget} orders a minute from this address;"
            f" try again in {tries.resets_in} s",
            code="too_many_orders",
            retry_after=tries.resets_in,
        )
