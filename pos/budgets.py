"""Budgets of tries per client in fixed windows, counted once on every app server.

A try is counted in one atomic step: INCR in a Redis transaction when Redis is configured (shared
by every app server), else a counter in the process under one lock. Litestar's
RateLimitMiddleware reads a count and writes it back in two steps under a lock of its own route
and process, so a burst spread over two routes, or over two app servers, got up to twice the
budget through.

An IPv6 client counts by its /64: one host is given a whole /64 and may pick any address in it.
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
from litestar.middleware.rate_limit import get_remote_address
from redis.asyncio import Redis
from redis.exceptions import RedisError

from pos.logs import logger

__all__ = [
    "Budget",
    "MemoryBudget",
    "RedisBudget",
    "Tries",
    "budget_key",
    "client_budget_key",
    "create_budget",
]


class Tries(NamedTuple):
    """A client's tries in the current window, the one just counted included."""

    spent: int
    resets_in: int  # seconds until the window ends


class Budget(ABC):
    """Counts tries per client in fixed windows."""

    @abstractmethod
    async def count_try(self, client: str) -> Tries:
        """Count one try from `client` in one atomic step; answer the window's tries so far."""


@dataclass
class _Window:
    ends_at: float
    count: int = 0


class MemoryBudget(Budget):
    """Tries counted in this process only: for a single app server without Redis."""

    def __init__(self, *, window_seconds: int) -> None:
        self._window_seconds = window_seconds
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {}

    async def count_try(self, client: str) -> Tries:
        now = time.monotonic()
        with self._lock:
            window = self._windows.get(client)
            if window is None or window.ends_at <= now:
                self._forget_ended(now)
                window = self._windows[client] = _Window(ends_at=now + self._window_seconds)
            window.count += 1
            return Tries(window.count, math.ceil(window.ends_at - now))

    def _forget_ended(self, now: float) -> None:
        self._windows = {c: w for c, w in self._windows.items() if w.ends_at > now}


class RedisBudget(Budget):
    """Tries counted in Redis: one budget across every app server on the same prefix.

    While Redis is away, each server counts in its own process: clients are still served.
    """

    def __init__(self, redis: Redis, *, key_prefix: str, window_seconds: int) -> None:
        self._redis = redis
        self._key_prefix = key_prefix
        self._window_seconds = window_seconds
        self._in_process = MemoryBudget(window_seconds=window_seconds)

    async def count_try(self, client: str) -> Tries:
        try:
            return await self._count_in_redis(client)
        except RedisError as exc:
            logger.warning(
                "budget: Redis failed, counting in this process",
                budget=self._key_prefix,
                error=repr(exc),
            )
            return await self._in_process.count_try(client)

    async def _count_in_redis(self, client: str) -> Tries:
        key = f"{self._key_prefix}:{client}"
        async with self._redis.pipeline(transaction=True) as pipe:
            # SET NX starts a window with its expiry; INCR keeps that expiry.
            pipe.set(key, 0, ex=self._window_seconds, nx=True)
            pipe.incr(key)
            pipe.ttl(key)
            _, count, ttl = await pipe.execute()
        return Tries(int(count), max(int(ttl), 1))


def create_budget(
    redis: Redis | None, *, prefix: str, namespace: str, window_seconds: int
) -> Budget:
    """Counted in Redis under `prefix:namespace:` when a client is given (shared by all
    servers), in-process otherwise."""
    if redis is None:
        return MemoryBudget(window_seconds=window_seconds)
    key_prefix = f"{prefix}:{namespace}"
    return RedisBudget(redis, key_prefix=key_prefix, window_seconds=window_seconds)


def client_budget_key(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """Whose budget a request spends: its client address's (`budget_key`)."""
    # Guards of HTTP routes get the Request; RateLimitMiddleware keyed tries by this address.
    return budget_key(get_remote_address(cast("Request[Any, Any, Any]", connection)))


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
