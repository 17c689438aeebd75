"""GET /health: whether the database answers and is migrated, whether Redis answers, and whether
certified transactions have a platform to go to."""

from __future__ import annotations

from typing import Any

from litestar import Response, get
from litestar.datastructures import State
from redis.asyncio import Redis
from redis.exceptions import RedisError

from pos.db.migrate import missing_migrations
from pos.logs import logger
from pos.platform.relay import unconfigured
from pos.settings import Settings

__all__ = ["health"]


async def _database_state() -> str:
    try:
        missing = await missing_migrations()
    except Exception as exc:  # any driver error means "down"; the reason goes to the log
        logger.warning("health: database down", error=str(exc))
        return "down"
    if missing:
        logger.warning("health: database not migrated", missing=len(missing))
        return "not migrated"
    return "ok"


async def _redis_state(redis: Redis | None) -> str:
    if redis is None:
        return "not configured"
    try:
        await redis.ping()
    except RedisError as exc:
        logger.warning("health: redis down", error=str(exc))
        return "down"
    return "ok"


@get("/health", operation_id="health", tags=["health"])
async def health(state: State) -> Response[dict[str, Any]]:
    """200 when the database answers and is migrated (and Redis answers, when configured).

    Real money taken with no platform to forward certified transactions to is "degraded" too,
    but still 200: the server serves, and restarting it would not help.
    """
    database = await _database_state()
    redis = await _redis_state(state.redis)
    settings: Settings = state.settings
    live = database == "ok" and redis in {"ok", "not configured"}
    healthy = live and unconfigured(settings) is None  # the startup log said why
    body = {
        "status": "ok" if healthy else "degraded",
        "database": database,
        "redis": redis,
        "platform": "configured" if settings.platform_url else "not configured",
    }
    return Response(body, status_code=200 if live else 503)
