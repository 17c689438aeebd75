"""`pos serve` stops on SIGTERM even while shoppers watch their orders' status streams."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import anyio
import httpx
import pytest

from pos.testing import free_port, start_pos, wait_until_healthy
from tests.helpers.shop import open_shop

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

# Less than POS_SHUTDOWN_GRACE_S (20 s), after which uvicorn would cut the stream itself: the
# server ends it, where a stream otherwise ends only with its order, or the shopper.
EXIT_WITHIN_S = 10


async def test_sigterm_ends_the_open_status_streams_and_stops(db: str, tmp_path: Path) -> None:
    shop = await open_shop()
    tea = await shop.add(price_fen=1250, stock=5)
    order = (await shop.order({"product_id": tea, "quantity": 1})).order
    port, log = free_port(), tmp_path / "server.log"
    env = {
        **os.environ,
        "POS_DATABASE_URL": db,
        "POS_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "POS_LOG_LEVEL": "WARNING",
    }
    url = f"http://127.0.0.1:{port}"
    server = start_pos(["serve", "--host", "127.0.0.1", "--port", str(port)], env, log)
    try:
        wait_until_healthy(url, server, log)
        events = f"{url}/api/orders/{order.id}/events"
        async with (
            httpx.AsyncClient(timeout=EXIT_WITHIN_S) as http,
            http.stream("GET", events, params={"token": order.access_token}) as stream,
        ):
            lines = stream.aiter_lines()
            assert '"state": "open"' in await anext(line async for line in lines if "state" in line)
            server.send_signal(signal.SIGTERM)
            with anyio.fail_after(EXIT_WITHIN_S):  # it ends, and the page reconnects
                rest = [line async for line in lines]
        assert not any("state" in line for line in rest)
        # uvicorn raises the SIGTERM again once it has stopped: the process ends by it.
        assert server.wait(EXIT_WITHIN_S) == -signal.SIGTERM, log.read_text()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert "Traceback" not in log.read_text()
