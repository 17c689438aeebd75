from __future__ import annotations

import socket

import httpx
import pytest

from pos.app import create_app
from pos.settings import Settings

pytestmark = pytest.mark.anyio


async def test_health_reports_the_database_and_no_redis(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "not configured"}


async def _health(settings: Settings) -> httpx.Response:
    app = create_app(settings)
    async with app.lifespan():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://pos.test") as http:
            return await http.get("/health")


@pytest.mark.redis
async def test_health_reports_redis_when_configured(settings: Settings, redis_url: str) -> None:
    response = await _health(settings.model_copy(update={"redis_url": redis_url}))
    assert response.json()["redis"] == "ok"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_health_is_503_when_redis_is_down(settings: Settings) -> None:
    down = f"redis://127.0.0.1:{_closed_port()}/0"
    response = await _health(settings.model_copy(update={"redis_url": down}))
    assert response.status_code == 503
    assert response.json()["redis"] == "down"


async def test_every_response_carries_a_request_id(client: httpx.AsyncClient) -> None:
    mine = await client.get("/health", headers={"X-Request-Id": "tablet-42"})
    assert mine.headers["x-request-id"] == "tablet-42"
    assert len((await client.get("/health")).headers["x-request-id"]) == 32
