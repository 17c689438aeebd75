"""Browser tests: a real `pos serve` process with the demo loaded, a virtual printer, Chromium.

The demo's printers are pointed at an in-process virtual printer on a free port (a copy of
fixtures/demo with the port replaced). Chromium is Debian's /usr/bin/chromium, driven by
Playwright's async API; without it the tests skip, except under CI=true, where they fail.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, async_playwright

from pos.db import opened_database
from pos.db.migrate import migrate
from pos.demo import load_demo
from pos.orders.tokens import counter_qr_token
from pos.settings import DEMO_SECRET
from pos.staff import service as staff
from pos.stores import service as stores
from pos.testing import free_port, start_pos, stop, wait_until_healthy
from printers.virtual import VirtualPrinter
from tests.helpers.demo import DEMO

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).parents[2] / "test-artifacts" / "screenshots"
PHONE = {"width": 390, "height": 844}
TABLET = {"width": 1024, "height": 768}
STARTUP_SECONDS = 30.0


@dataclass(frozen=True)
class Site:
    """The running server, its demo ids and the virtual printer its demo printers print on."""

    url: str
    counter_id: int
    subway_store_id: int
    kiosk_token: str
    counter_device_token: str  # the subway counter's screen, which scans payment codes
    printer: VirtualPrinter

    @property
    def counter_url(self) -> str:
        token = counter_qr_token(self.counter_id, secret=DEMO_SECRET)
        return f"{self.url}/c/{self.counter_id}?t={token}"


@dataclass(frozen=True)
class _Prepared:
    counter_id: int
    subway_store_id: int
    kiosk_token: str
    counter_device_token: str


async def _prepare(database_url: str, demo_dir: Path) -> _Prepared:
    async with opened_database(database_url):
        await migrate()
        summary = await load_demo(demo_dir)
        ids = await stores.store_ids_by_code(["XM-M1-LVCUO", "XM-SM-LINXIA"])
        devices = await stores.device_ids_of([ids["XM-SM-LINXIA"], ids["XM-M1-LVCUO"]])
        kiosk = await staff.issue_device_token(
            devices["linxia-kiosk-1"], store_id=ids["XM-SM-LINXIA"]
        )
        screen = await staff.issue_device_token(
            devices["lvcuo-counter-screen"], store_id=ids["XM-M1-LVCUO"]
        )
        counter_id = summary.counter_ids["LVCUO-01"]
        return _Prepared(counter_id, ids["XM-M1-LVCUO"], kiosk.token, screen.token)


def _demo_copy(directory: Path, printer_port: int) -> Path:
    copy = directory / "demo"
    shutil.copytree(DEMO, copy)
    stores_file = copy / "stores.json"
    text = stores_file.read_text("utf-8").replace(
        "tcp://127.0.0.1:9100", f"tcp://127.0.0.1:{printer_port}"
    )
    stores_file.write_text(text, "utf-8")
    return copy


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (apt-get install chromium fonts-noto-cjk)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}, and CI must run the browser tests")
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="session")
def site(chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """`pos serve` on a free port over a migrated SQLite file with the demo loaded."""
    directory = tmp_path_factory.mktemp("site")
    printer = VirtualPrinter(directory / "receipts", paper_mm=80)
    printer.start("127.0.0.1", 0)
    assert printer.port is not None
    database_url = f"sqlite:///{directory / 'pos.sqlite3'}"
    prepared = asyncio.run(_prepare(database_url, _demo_copy(directory, printer.port)))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "POS_DATABASE_URL": database_url,
        "POS_PUBLIC_URL": url,
        "POS_PRINT_RETRY_FIRST_S": "0.5",
    }
    log = directory / "server.log"
    process = start_pos(["serve", "--host", "127.0.0.1", "--port", str(port)], env, log)
    try:
        wait_until_healthy(url, process, log)
        yield Site(
            url,
            prepared.counter_id,
            prepared.subway_store_id,
            prepared.kiosk_token,
            prepared.counter_device_token,
            printer,
        )
    finally:
        stop([process])
        printer.stop()


@pytest.fixture
async def browser(chromium: Path, tmp_path: Path) -> AsyncIterator[Browser]:
    """A fresh headless Chromium (its own profile directory) for one test."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def phone(browser: Browser) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context(
        viewport=PHONE, locale="zh-CN", has_touch=True, is_mobile=True, device_scale_factor=2
    )
    try:
        yield context
    finally:
        await context.close()


@pytest.fixture
async def tablet(browser: Browser) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context(viewport=TABLET, locale="zh-CN", has_touch=True)
    try:
        yield context
    finally:
        await context.close()


def screenshot_path(name: str) -> str:
    """Where a screenshot is kept as a test artifact."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return str(SCREENSHOTS / f"{name}.png")


@pytest.fixture
async def browser_context_320(browser: Browser) -> AsyncIterator[BrowserContext]:
    """The narrowest phone the pages must work on."""
    context = await browser.new_context(
        viewport={"width": 320, "height": 640}, locale="zh-CN", has_touch=True, is_mobile=True
    )
    try:
        yield context
    finally:
        await context.close()
