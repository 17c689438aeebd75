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
from tests.helpers import wechat_gateway
from tests.integration.payments.conftest import own_secrets

pytestmark = pytest.mark.anyio


async def test_health_reports_the_database_and_no_redis(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "redis": "not configured",
        "platform": "not configured",  # the demo's sandbox money: nothing to forward for real
    }


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


def _taking_real_money(settings: Settings, folder: Path) -> Settings:
    gateway = wechat_gateway.WeChatGateway()  # only its keys: health calls no provider
    private_key, public_key = gateway.write_keys(folder)
    account = {
        "payment_provider": "wechat",
        "wechat_mchid": wechat_gateway.MCHID,
        "wechat_appid": wechat_gateway.APPID,
        "wechat_cert_serial_no": wechat_gateway.SERIAL_NO,
        "wechat_private_key_file": private_key,
        "wechat_apiv3_key": gateway.apiv3_key,
        "wechat_public_key_file": public_key,
        "wechat_public_key_id": wechat_gateway.PUBLIC_KEY_ID,
        **own_secrets(),
    }
    return Settings(**(settings.model_dump() | {"run_worker": False} | account))


async def test_real_money_without_a_platform_is_degraded_but_live(
    settings: Settings, tmp_path: Path
) -> None:
    response = await _health(_taking_real_money(settings, tmp_path))
    assert response.status_code == 200  # a liveness probe must not restart the server for it
    body = response.json()
    assert (body["status"], body["platform"]) == ("degraded", "not configured")
    assert body["database"] == "ok"


async def test_real_money_with_a_platform_is_healthy(settings: Settings, tmp_path: Path) -> None:
    configured = _taking_real_money(settings, tmp_path).model_copy(
        update={"platform_url": "http://127.0.0.1:8100"}
    )
    response = await _health(configured)
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["platform"]) == ("ok", "configured")
