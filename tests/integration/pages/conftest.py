"""Page fixtures: the app in-loop with the demo loaded (SQLite; pages only call services)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from litestar import Litestar

from pos.demo import load_demo
from pos.errors import Unavailable
from pos.events.outbox import dispatch_due
from pos.orders.tokens import counter_qr_token
from pos.payments.sandbox import SandboxProvider
from pos.settings import DEMO_SECRET, Settings
from pos.staff import service as staff
from pos.stores import service as stores
from tests.helpers.demo import DEMO


@pytest.fixture
def database_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "pos.sqlite3"
    path.write_bytes(sqlite_template.read_bytes())
    return f"sqlite:///{path}"


@pytest.fixture
def catalog_page_size() -> int:
    """POS_CATALOG_PAGE_SIZE of the app: a test parametrizes it to page through a catalog."""
    return 50


@pytest.fixture
def settings(database_url: str, catalog_page_size: int) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        redis_prefix=f"pos_test_{uuid.uuid4().hex[:8]}",
        run_worker=False,
        catalog_page_size=catalog_page_size,
    )


@dataclass(frozen=True)
class Demo:
    """The demo's ids, and the counter page's URL with its signed token."""

    counter_id: int
    kiosk_store_id: int
    subway_store_id: int

    @property
    def counter_url(self) -> str:
        return f"/c/{self.counter_id}?t={counter_qr_token(self.counter_id, secret=DEMO_SECRET)}"


@pytest.fixture
async def demo(app: Litestar) -> Demo:
    await load_demo(DEMO)
    store_ids = await stores.store_ids_by_code(["XM-M1-LVCUO", "XM-SM-LINXIA"])
    counters = await stores.counter_ids_of([store_ids["XM-M1-LVCUO"]])
    return Demo(counters["LVCUO-01"], store_ids["XM-SM-LINXIA"], store_ids["XM-M1-LVCUO"])


@pytest.fixture
async def kiosk_token(demo: Demo) -> str:
    """A fresh device token of the demo's kiosk in the Linxia zone."""
    devices = await stores.device_ids_of([demo.kiosk_store_id])
    issued = await staff.issue_device_token(devices["linxia-kiosk-1"], store_id=demo.kiosk_store_id)
    return issued.token


@pytest.fixture
async def paying_client(app: Litestar, client: httpx.AsyncClient) -> httpx.AsyncClient:
    """The client, with the sandbox's notifications delivered to the app in-loop."""

    async def in_loop(url: str, headers: Mapping[str, str], body: bytes) -> int:
        response = await client.post(httpx.URL(url).path, headers=dict(headers), content=body)
        return response.status_code

    app.state["payment_sender"] = in_loop
    return client


async def run_outbox() -> None:
    """Run every due outbox event (the worker is off in these tests)."""
    while await dispatch_due():
        pass


def sandbox_away(monkeypatch: pytest.MonkeyPatch, call: str) -> None:
    """The sandbox's `call` (`create`, `charge_code` ...) fails as a gateway not answering."""

    async def away(*_: object) -> None:
        raise Unavailable("the sandbox does not answer", code="provider_unavailable")

    monkeypatch.setattr(SandboxProvider, call, away)
