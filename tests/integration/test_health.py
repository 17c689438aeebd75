from __future__ import annotations

import contextlib
import shutil
import socket
import sqlite3
from pathlib import Path

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


def _without_worker(database_url: str) -> Settings:
    # The embedded worker would only log that the tables are missing.
    return Settings(_env_file=None, database_url=database_url, run_worker=False)  # type: ignore[call-arg]


async def test_health_is_503_on_a_database_never_migrated(tmp_path: Path) -> None:
    response = await _health(_without_worker(f"sqlite:///{tmp_path / 'new.sqlite3'}"))
    assert response.status_code == 503
    assert response.json()["database"] == "not migrated"


async def test_health_is_503_on_a_database_lacking_the_latest_migration(
    sqlite_template: Path, tmp_path: Path
) -> None:
    database = tmp_path / "pos.sqlite3"
    shutil.copy(sqlite_template, database)
    with contextlib.closing(sqlite3.connect(database)) as db, db:
        db.execute("DELETE FROM migration WHERE id = (SELECT max(id) FROM migration)")
    response = await _health(_without_worker(f"sqlite:///{database}"))
    assert response.status_code == 503
    assert response.json()["database"] == "not migrated"
