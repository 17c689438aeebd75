"""GET /health: whether the database and Redis answer."""

from __future__ import annotations

from typing import Any

from litestar import Response, get
from litestar.datastructures import State
from redis.asyncio import Redis
from redis.exceptions import RedisError

from pos.db import current_engine
from pos.logs import logger

__all__ = ["health"]


async def _database_ok() -> bool:
    try:
        await current_engine().run_ddl("SELECT 1")
    except Exception as exc:  # any driver error means "down"; the reason goes to the log
        logger.warning("health: database down", error=str(exc))
        return False
    return True


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
    """200 when the database answers (and Redis, when configured); 503 otherwise."""
    database = "ok" if await _database_ok() else "down"
    redis = await _redis_state(state.redis)
    healthy = database == "ok" and redis in {"ok", "not configured"}
    body = {"status": "ok" if healthy else "degraded", "database": database, "redis": redis}
    return Response(body, status_code=200 if healthy else 503)
