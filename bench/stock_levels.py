"""Reading a stock level with 10 and with 1,000,000 ledger rows behind it, on PostgreSQL.

    .venv/bin/python bench/stock_levels.py                      # 1,000,000 rows
    POS_BENCH_QUICK=1 .venv/bin/python bench/stock_levels.py    # 100,000 rows

Creates a database pos_bench_<random> on 127.0.0.1 (dropped at the end), one store and one
product, and times `inventory.get_level` (the service the API calls) with 10 movements in the
ledger, then again once the ledger holds the large number (loaded with COPY).
Progress goes to stderr; stdout gets one line of JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta

import asyncpg

from pos.db import opened_database
from pos.db.migrate import migrate
from pos.inventory import service as inventory
from pos.testing import scratch_database

FULL, QUICK = 1_000_000, 100_000
SMALL = 10
READS = 2_000
COPY_CHUNK = 100_000


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def store_and_product(connection: asyncpg.Connection) -> tuple[int, int]:
    county = await connection.fetchval(
        "WITH p AS (INSERT INTO province (code, name_zh, name_en) VALUES ('35', '福建省', '')"
        " RETURNING id) INSERT INTO county (code, name_zh, name_en, province)"
        " SELECT '350203', '思明区', '', id FROM p RETURNING id"
    )
    supplier = await connection.fetchval(
        "INSERT INTO supplier (credit_code, name_zh, name_en, county)"
        " VALUES ('91350203MA00000001', '南部县脐橙合作社', '', $1) RETURNING id",
        county,
    )
    product = await connection.fetchval(
        "INSERT INTO product (certificate_no, scheme, certifying_county, valid_from, valid_until,"
        " origin_county, supplier, unit, price_fen, name_zh, updated_at)"
        " VALUES ('BENCH-1', 'bench', $1, $2, $2, $1, $3, 'piece', 990, '春橙', now())"
        " RETURNING id",
        county,
        date.today(),
        supplier,
    )
    store = await connection.fetchval(
        "INSERT INTO store (code, name_zh, name_en, kind, city, address, time_zone, merchant_id,"
        " hold_minutes) VALUES ('XM-BENCH', '厦门地铁', '', 'subway_counter', '', '',"
        " 'Asia/Shanghai', '', 5) RETURNING id"
    )
    return int(store), int(product)


async def add_movements(connection: asyncpg.Connection, store: int, product: int, n: int) -> None:
    """`n` applied movements of +1 and -1, and the level kept in step, as the service would."""
    start = datetime.now(UTC) - timedelta(days=365)
    columns = ["store", "product", "kind", "delta", "applied", "occurred_at", "recorded_at"]
    columns += ["actor", "reason", "reference"]
    for first in range(0, n, COPY_CHUNK):
        records = [
            (
                store,
                product,
                "adjustment",
                1 if i % 2 else -1,
                True,
                start + timedelta(seconds=i),
                start,
                "bench",
                "bench",
                "",
            )
            for i in range(first, min(first + COPY_CHUNK, n))
        ]
        await connection.copy_records_to_table("stock_movement", records=records, columns=columns)
        log(f"  ledger rows: {min(first + COPY_CHUNK, n):,}/{n:,}")
    # Let the bulk load settle (autovacuum would otherwise run during the timed reads).
    await connection.execute("VACUUM ANALYZE stock_movement")


async def read_times(store: int, product: int) -> list[float]:
    """Microseconds per `get_level`, READS times after a warm-up."""
    for _ in range(100):
        await inventory.get_level(store, product)
    times = []
    for _ in range(READS):
        started = time.perf_counter()
        await inventory.get_level(store, product)
        times.append((time.perf_counter() - started) * 1e6)
    return times


async def main() -> None:
    large = QUICK if os.environ.get("POS_BENCH_QUICK") == "1" else FULL
    async with scratch_database("pos_bench") as dsn, opened_database(dsn):
        await migrate()
        connection = await asyncpg.connect(dsn)
        try:
            store, product = await store_and_product(connection)
            await inventory.set_level(store, product, 500)
            await add_movements(connection, store, product, SMALL)
            small_us = await read_times(store, product)
            log(f"{SMALL} rows: median {statistics.median(small_us):.0f} µs per read")
            await add_movements(connection, store, product, large - SMALL)
            large_us = await read_times(store, product)
            log(f"{large:,} rows: median {statistics.median(large_us):.0f} µs per read")
        finally:
            await connection.close()
    result = {
        "bench": "stock_levels",
        "reads": READS,
        "ledger_rows_small": SMALL,
        "ledger_rows_large": large,
        "small_median_us": round(statistics.median(small_us)),
        "large_median_us": round(statistics.median(large_us)),
        "small_p95_us": round(statistics.quantiles(small_us, n=20)[18]),
        "large_p95_us": round(statistics.quantiles(large_us, n=20)[18]),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
