"""A real server process: the sandbox notifies it over HTTP, even across a crash and restart."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import httpx
import pytest

from pos.events.tables import OutboxEvent
from pos.orders.service import ORDER_PAID
from pos.testing import free_port, start_pos, wait_until_healthy
from tests.helpers.shop import open_shop

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@contextmanager
def _server(env: dict[str, str], port: int, log: Path) -> Iterator[str]:
    """`pos serve` on `port` until the block ends, then killed like a crash."""
    url = f"http://127.0.0.1:{port}"
    serve = ["serve", "--host", "127.0.0.1", "--port", str(port)]
    process = start_pos(serve, {**os.environ, **env}, log)
    try:
        wait_until_healthy(url, process, log)
        yield url
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()


async def _state(http: httpx.AsyncClient, url: str, order: dict[str, str]) -> str:
    response = await http.get(f"{url}/api/orders/{order['id']}", params={"token": order["token"]})
    return str(response.json()["state"])


async def test_payment_made_while_the_server_is_down_settles_once_after_restart(
    db: str, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        "POS_DATABASE_URL": db,
        "POS_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "POS_RUN_WORKER": "false",
        "POS_LOG_LEVEL": "WARNING",
    }
    shop = await open_shop()
    tea = await shop.add(price_fen=1250, stock=5)
    created = (await shop.order({"product_id": tea, "quantity": 1})).order
    order = {"id": str(created.id), "token": created.access_token or ""}
    async with httpx.AsyncClient(timeout=10) as http:
        with _server(env, port, tmp_path / "server.log") as url:
            started = await http.post(
                f"{url}/api/orders/{order['id']}/payments",
                params={"token": order["token"]},
                json={"method": "qr"},
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
            wallet = started.json()["qr_url"]
            assert wallet.startswith(url)
            # The shopper pays; with no worker running, the notification waits in the outbox.
            assert (await http.post(wallet, data={"payer": "wx-payer-1"})).status_code == 200
            assert await _state(http, url, order) == "paying"
        with _server({**env, "POS_RUN_WORKER": "true"}, port, tmp_path / "server.log") as url:
            deadline = time.monotonic() + 15
            while await _state(http, url, order) != "paid":
                assert time.monotonic() < deadline, (tmp_path / "server.log").read_text()
                await anyio.sleep(0.2)
    assert await OutboxEvent.count().where(OutboxEvent.kind == ORDER_PAID) == 1
