"""Sign-in tries per client address and per username: one budget each for the API and the
tablet page, on every server.

An IPv6 client counts by its /64: one host is given a whole /64 and may pick any address in it.
A username has a budget of its own, so guesses at one user spread over many addresses stop too;
it is larger than an address's, so one address alone cannot lock a user out.

Litestar's RateLimitMiddleware reads a count and writes it back in two steps under a lock of its
own route and process, so a burst spread over the two sign-in routes, or over two app servers,
got up to twice the budget through. Here a try is counted in one atomic step: INCR in a Redis
transaction when Redis is configured (shared by every app server), else a counter in the process
under one lock. The guard spends the try before the password is checked, so it also caps how much
argon2 work one client can ask for. Every answer to a try carries the RateLimit headers
RateLimitMiddleware sent, so clients see no change.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import MutableScopeHeaders
from litestar.exceptions import TooManyRequestsException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.rate_limit import get_remote_address
from litestar.types import Message, Scope
from redis.asyncio import Redis
from redis.exceptions import RedisError

from pos.logs import logger
from pos.staff.service import normal_username

__all__ = [
    "LOGIN_TRIES",
    "STATE_KEY",
    "USER_LOGIN_TRIES",
    "WINDOW_SECONDS",
    "LoginLimit",
    "MemoryLoginLimit",
    "RedisLoginLimit",
    "Tries",
    "budget_key",
    "create_login_limit",
    "send_budget_headers",
    "spend_login_try",
    "spend_user_try",
]

# Enough for a store's tablets behind one NAT, too few to guess passwords.
LOGIN_TRIES = 10
USER_LOGIN_TRIES = 3 * LOGIN_TRIES
WINDOW_SECONDS = 60
STATE_KEY = "login_limit"  # where create_app puts the LoginLimit in the app state
_TRIES_KEY = "login_tries"  # where the guard leaves a request's counted Tries in its scope state


class Tries(NamedTuple):
    """A client's tries in the current window, the one just counted included."""

    spent: int
    resets_in: int  # seconds until the window ends


class LoginLimit(ABC):
    """Counts sign-in tries per client address in fixed windows of WINDOW_SECONDS."""

    @abstractmethod
    async def count_try(self, client: str) -> Tries:
        """Count one try from `client` in one atomic step; answer the window's tries so far."""


@dataclass
class _Window:
    ends_at: float
    count: int = 0


class MemoryLoginLimit(LoginLimit):
    """Tries counted in this process only: for a single app server without Redis."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {}

    async def count_try(self, client: str) -> Tries:
        now = time.monotonic()
        with self._lock:
            window = self._windows.get(client)
            if window is None or window.ends_at <= now:
                self._forget_ended(now)
                window = self._windows[client] = _Window(ends_at=now + WINDOW_SECONDS)
            window.count += 1
            return Tries(window.count, math.ceil(window.ends_at - now))

    def _forget_ended(self, now: float) -> None:
        self._windows = {c: w for c, w in self._windows.items() if w.ends_at > now}


class RedisLoginLimit(LoginLimit):
    """Tries counted in Redis: one budget across every app server on the same prefix.

    While Redis is away, each server counts in its own process: staff can still sign in.
    """

    def __init__(self, redis: Redis, *, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._in_process = MemoryLoginLimit()

    async def count_try(self, client: str) -> Tries:
        try:
            return await self._count_in_redis(client)
        except RedisError as exc:
            logger.warning(
                "sign-in budget: Redis failed, counting in this process", error=repr(exc)
            )
            return await self._in_process.count_try(client)

    async def _count_in_redis(self, client: str) -> Tries:
        key = f"{self._prefix}:staff_login:{client}"
        async with self._redis.pipeline(transaction=True) as pipe:
            # SET NX starts a window with its expiry; INCR keeps that expiry.
            pipe.set(key, 0, ex=WINDOW_SECONDS, nx=True)
            pipe.incr(key)
            pipe.ttl(key)
            _, count, ttl = await pipe.execute()
        return Tries(int(count), max(int(ttl), 1))


def create_login_limit(redis: Redis | None, *, prefix: str) -> LoginLimit:
    """Counted in Redis when a client is given (shared by all servers), in-process otherwise."""
    return MemoryLoginLimit() if redis is None else RedisLoginLimit(redis, prefix=prefix)


async def spend_login_try(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Guard: count a sign-in try from the client's address; 429 once the window's are spent."""
    limit: LoginLimit = connection.app.state[STATE_KEY]
    # Guards of HTTP routes get the Request; RateLimitMiddleware keyed tries by this address.
    client = get_remote_address(cast("Request[Any, Any, Any]", connection))
    tries = await limit.count_try(budget_key(client))
    connection.scope.setdefault("state", {})[_TRIES_KEY] = tries
    if tries.spent > LOGIN_TRIES:
        raise TooManyRequestsException(headers={"Retry-After": str(tries.resets_in)})


async def spend_user_try(connection: ASGIConnection[Any, Any, Any, Any], username: str) -> None:
    """Count a sign-in try at `username` (as sign-in matches it); 429 once its tries are spent.

    Call it before the password is checked, after `spend_login_try` let the request in.
    """
    limit: LoginLimit = connection.app.state[STATE_KEY]
    tries = await limit.count_try(f"user:{normal_username(username)}")
    if tries.spent > USER_LOGIN_TRIES:
        # The answer's RateLimit headers then say no try is left, and when one comes back.
        connection.scope.setdefault("state", {})[_TRIES_KEY] = tries
        raise TooManyRequestsException(headers={"Retry-After": str(tries.resets_in)})


def budget_key(address: str) -> str:
    """Whose budget a try from `address` spends: an IPv4 address's own, an IPv6 one's /64's."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # no IP address: e.g. a Unix socket's client
        return address
    if isinstance(ip, ipaddress.IPv4Address):
        return address
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.IPv6Network((ip, 64), strict=False))


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
