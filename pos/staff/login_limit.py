"""Sign-in tries per client address and per username: one budget each for the API and the
tablet page, on every server (counted as `pos.budgets` counts).

A username has a budget of its own, so guesses at one user spread over many addresses stop too;
it is larger than an address's, so one address alone cannot lock a user out.

The guard spends the try before the password is checked, so it also caps how much argon2 work one
client can ask for. Every answer to a try carries the RateLimit headers RateLimitMiddleware sent,
so clients see no change.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import MutableScopeHeaders
from litestar.exceptions import TooManyRequestsException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Message, Scope
from redis.asyncio import Redis

from pos.budgets import Budget, Tries, client_budget_key, create_budget
from pos.staff.service import normal_username

__all__ = [
    "LOGIN_TRIES",
    "STATE_KEY",
    "USER_LOGIN_TRIES",
    "WINDOW_SECONDS",
    "create_login_limit",
    "send_budget_headers",
    "spend_login_try",
    "spend_user_try",
]

# Enough for a store's tablets behind one NAT, too few to guess passwords.
LOGIN_TRIES = 10
USER_LOGIN_TRIES = 3 * LOGIN_TRIES
WINDOW_SECONDS = 60
STATE_KEY = "login_limit"  # where create_app puts the sign-in Budget in the app state
_TRIES_KEY = "login_tries"  # where the guard leaves a request's counted Tries in its scope state


def create_login_limit(redis: Redis | None, *, prefix: str) -> Budget:
    """Counted in Redis when a client is given (shared by all servers), in-process otherwise."""
    return create_budget(
        redis, prefix=prefix, namespace="staff_login", window_seconds=WINDOW_SECONDS
    )


async def spend_login_try(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Guard: count a sign-in try from the client's address; 429 once the window's are spent."""
    limit: Budget = connection.app.state[STATE_KEY]
    tries = await limit.count_try(client_budget_key(connection))
    connection.scope.setdefault("state", {})[_TRIES_KEY] = tries
    if tries.spent > LOGIN_TRIES:
        raise TooManyRequestsException(headers={"Retry-After": str(tries.resets_in)})


async def spend_user_try(connection: ASGIConnection[Any, Any, Any, Any], username: str) -> None:
    """Count a sign-in try at `username` (as sign-in matches it); 429 once its tries are spent.

    Call it before the password is checked, after `spend_login_try` let the request in.
    """
    limit: Budget = connection.app.state[STATE_KEY]
    tries = await limit.count_try(f"user:{normal_username(username)}")
    if tries.spent > USER_LOGIN_TRIES:
        # The answer's RateLimit headers then say no try is left, and when one comes back.
        connection.scope.setdefault("state", {})[_TRIES_KEY] = tries
        raise TooManyRequestsException(headers={"Retry-After": str(tries.resets_in)})


async def send_budget_headers(message: Message, scope: Scope) -> None:
    """App `before_send` hook: an answer to a sign-in try tells the client its budget."""
    tries: Tries | None = scope.get("state", {}).get(_TRIES_KEY)
    if tries is None or message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    headers["RateLimit-Policy"] = f"{LOGIN_TRIES}; w={WINDOW_SECONDS}"
    headers["RateLimit-Limit"] = str(LOGIN_TRIES)
    headers["RateLimit-Remaining"] = str(max(LOGIN_TRIES - tries.spent, 0))
    headers["RateLimit-Reset"] = str(tries.resets_in)
