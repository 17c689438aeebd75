"""Time of each analytics measure over a year of sales, on PostgreSQL and on SQLite.

    .venv/bin/python bench/analytics.py                      # 1,000,000 orders
    POS_BENCH_QUICK=1 .venv/bin/python bench/analytics.py    # 20,000

Starts what it needs: a PostgreSQL database pos_bench_<random> on 127.0.0.1 (dropped at the
end) and an SQLite file in a temporary directory. Each is migrated and filled by
fixtures/generate_sales.py; `rebuild` computes the rollups; then every measure runs for all
stores over the whole year, three times, and its median is reported. `refresh_order_ms` is the
mean time the outbox handler takes to bring the rollups up to date after one order.
Progress goes to stderr; stdout gets one line of JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

from pos.analytics import service
from pos.analytics.rebuild import rebuild
from pos.analytics.rollups import refresh_order
from pos.analytics.service import Scope
from pos.analytics.sql import execute, fetch
from pos.db import opened_database
from pos.db.migrate import migrate
from pos.testing import scratch_database

FULL, QUICK = 1_000_000, 20_000
GENERATOR = Path(__file__).parents[1] / "fixtures" / "generate_sales.py"
RUNS, REFRESHES = 3, 100

MEASURES: dict[str, Callable[[Scope], Awaitable[Any]]] = {
    "sales_by_province": lambda scope: service.sales(scope, "province"),
    "sales_by_county": lambda scope: service.sales(scope, "county"),
    "sales_by_supplier": lambda scope: service.sales(scope, "supplier"),
    "sales_by_product": lambda scope: service.sales(scope, "product"),
    "sales_by_day": lambda scope: service.sales(scope, "day"),
    "buyers": service.buyers,
    "cohorts_monthly": lambda scope: service.cohorts(scope, "month"),
    "cohorts_weekly": lambda scope: service.cohorts(scope, "week"),
    "second_purchase": service.comeback_time,
    "repeat_by_product": lambda scope: service.repeat(scope, "product"),
    "repeat_by_county": lambda scope: service.repeat(scope, "county"),
    "regions": service.regions,
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def generate(database_url: str, orders: int) -> float:
    """Seconds to fill the migrated database with `orders` orders (a subprocess)."""
    started = time.perf_counter()
    command = [sys.executable, str(GENERATOR), "--database-url", database_url]
    subprocess.run([*command, "--orders", str(orders)], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


async def timed(work: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await work()
    return time.perf_counter() - started


async def measure_all(prefix: str) -> dict[str, float]:
    """Median milliseconds of each measure over every store and the whole year."""
    stores = tuple(row["id"] for row in await fetch("SELECT id FROM store ORDER BY id"))
    scope = Scope(stores, date(2026, 1, 1), date(2026, 12, 31))
    figures: dict[str, float] = {}
    for name, run in MEASURES.items():
        times = [await timed(lambda run=run: run(scope)) for _ in range(RUNS)]
        figures[f"{prefix}_{name}_ms"] = round(statistics.median(times) * 1000, 1)
        log(f"  {name}: {figures[f'{prefix}_{name}_ms']} ms")
    return figures


async def refresh_time(prefix: str) -> dict[str, float]:
    """Mean milliseconds of the rollup handler's work for one order."""
    ids = [row["id"] for row in await fetch("SELECT id FROM orders ORDER BY id")]
    sample = random.Random(7).sample(ids, min(REFRESHES, len(ids)))
    total = 0.0
    for order_id in sample:
        total += await timed(lambda order_id=order_id: refresh_order(order_id))
    return {f"{prefix}_refresh_order_ms": round(total / len(sample) * 1000, 2)}


async def bench_database(prefix: str, database_url: str, orders: int) -> dict[str, float]:
    async with opened_database(database_url):
        await migrate()
        log(f"{prefix}: generating {orders:,} orders")
        figures = {f"{prefix}_generate_s": round(generate(database_url, orders), 1)}
        log(f"{prefix}: rebuilding the rollups")
        figures[f"{prefix}_rebuild_s"] = round(await timed(rebuild), 1)
        await execute("VACUUM ANALYZE" if prefix == "postgres" else "ANALYZE")
        figures |= await measure_all(prefix)
        figures |= await refresh_time(prefix)
        return figures


async def main() -> None:
    orders = QUICK if os.environ.get("POS_BENCH_QUICK") == "1" else FULL
    result: dict[str, Any] = {"bench": "analytics", "orders": orders}
    async with scratch_database("pos_bench") as url:
        result |= await bench_database("postgres", url, orders)
    with tempfile.TemporaryDirectory(prefix="pos_bench_") as directory:
        url = f"sqlite:///{Path(directory) / 'analytics.sqlite3'}"
        result |= await bench_database("sqlite", url, orders)
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
