"""Weight and speed of the shopper's counter page on an emulated slow 4G phone.

    .venv/bin/python bench/page_weight.py                  # 5 cold loads, the median time
    POS_BENCH_QUICK=1 .venv/bin/python bench/page_weight.py   # 1 cold load

Starts `pos serve` on a free port over a fresh SQLite file with the demo loaded, then opens the
demo counter's page (from its QR code) in headless Chromium with DevTools' "Slow 4G" throttling
(562.5 ms latency, 1.44 Mbit/s down, 675 kbit/s up, Chrome's own preset) and an empty cache.
Bytes are what crossed the wire (compressed) for the HTML, CSS and JS; images are left out, as
they are lazy-loaded and sized to fit. "Usable" is the end of DOMContentLoaded: the products are
on screen and the script has added the cart's +/- buttons. Targets: under 50 KB and 1.5 s.
Progress goes to stderr; stdout gets one line of JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from playwright.async_api import async_playwright

from pos.db import opened_database
from pos.db.migrate import migrate
from pos.demo import load_demo
from pos.orders.tokens import counter_qr_token
from pos.settings import DEMO_SECRET
from pos.testing import free_port, start_pos, stop, wait_until_healthy

DEMO = Path(__file__).parents[1] / "fixtures" / "demo"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Chrome DevTools' "Slow 4G" preset (formerly "Fast 3G"), in the units the CDP call takes.
SLOW_4G = {
    "offline": False,
    "latency": 562.5,
    "downloadThroughput": 1.6 * 1024 * 1024 / 8 * 0.9,
    "uploadThroughput": 750 * 1024 / 8 * 0.9,
}
COUNTED = {"Document", "Stylesheet", "Script"}
RUNS, QUICK_RUNS = 5, 1


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def prepare(database_url: str) -> int:
    """Migrate, load the demo; the id of the subway counter."""
    async with opened_database(database_url):
        await migrate()
        summary = await load_demo(DEMO)
        return summary.counter_ids["LVCUO-01"]


async def one_load(url: str) -> dict[str, Any]:
    """Bytes by resource type and the time until usable, for one cold load."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(
                viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
            )
            page = await context.new_page()
            cdp = await context.new_cdp_session(page)
            await cdp.send("Network.enable")
            await cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
            await cdp.send("Network.emulateNetworkConditions", SLOW_4G)
            types: dict[str, str] = {}
            sizes: dict[str, int] = {}
            cdp.on(
                "Network.responseReceived", lambda e: types.__setitem__(e["requestId"], e["type"])
            )
            cdp.on(
                "Network.loadingFinished",
                lambda e: sizes.__setitem__(e["requestId"], int(e["encodedDataLength"])),
            )
            await page.goto(url, wait_until="load")
            await page.wait_for_selector(".product .qty button")
            usable_ms = await page.evaluate(
                "performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"
            )
            await page.wait_for_timeout(200)
            by_type: dict[str, int] = {}
            for request_id, size in sizes.items():
                kind = types.get(request_id, "Other")
                by_type[kind] = by_type.get(kind, 0) + size
            return {"bytes": by_type, "usable_ms": float(usable_ms)}
        finally:
            await browser.close()


def main() -> None:
    quick = os.environ.get("POS_BENCH_QUICK") == "1"
    runs = QUICK_RUNS if quick else RUNS
    with tempfile.TemporaryDirectory() as directory:
        database_url = f"sqlite:///{Path(directory) / 'pos.sqlite3'}"
        log("loading the demo")
        counter_id = asyncio.run(prepare(database_url))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "POS_DATABASE_URL": database_url,
            "POS_PUBLIC_URL": base,
            "POS_LOG_LEVEL": "WARNING",
        }
        serve = ["serve", "--host", "127.0.0.1", "--port", str(port)]
        server_log = Path(directory) / "server.log"
        process = start_pos(serve, env, server_log)
        try:
            wait_until_healthy(base, process, server_log)
            token = counter_qr_token(counter_id, secret=DEMO_SECRET)
            url = f"{base}/c/{counter_id}?t={token}"
            loads = []
            for number in range(runs):
                loads.append(asyncio.run(one_load(url)))
                log(f"load {number + 1}/{runs}: {loads[-1]}")
        finally:
            stop([process])
    last = loads[-1]["bytes"]
    counted = sum(size for kind, size in last.items() if kind in COUNTED)
    print(
        json.dumps(
            {
                "bench": "page_weight",
                "network": "devtools-slow-4g",
                "runs": runs,
                "counter_page_kb": round(counted / 1024, 1),
                "html_kb": round(last.get("Document", 0) / 1024, 1),
                "css_kb": round(last.get("Stylesheet", 0) / 1024, 1),
                "js_kb": round(last.get("Script", 0) / 1024, 1),
                "time_to_usable_ms": round(statistics.median(r["usable_ms"] for r in loads)),
                "target_kb": 50,
                "target_ms": 1500,
            }
        )
    )


if __name__ == "__main__":
    main()
