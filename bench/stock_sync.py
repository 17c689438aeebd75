"""Supplier stock updates applied per second on PostgreSQL (target: 100,000 in under 10 s).

    .venv/bin/python bench/stock_sync.py                      # 100,000 updates
    POS_BENCH_QUICK=1 .venv/bin/python bench/stock_sync.py    # 10,000

Creates a database pos_bench_<random> on 127.0.0.1 (dropped at the end) with one supplier and
as many certified products, then sends the updates as signed-push bodies of 10,000 each through
the same code a push takes (JSON parsing and checks, product lookup, timestamped upsert): once
new, once newer (every row overwritten) and once again (every update a stale repeat).
Progress goes to stderr; stdout gets one line of JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from datetime import UTC, date, datetime, timedelta

import asyncpg

from pos.db import opened_database
from pos.db.migrate import migrate
from pos.inventory.supplier_sync import apply_updates, parse_push
from pos.testing import scratch_database

FULL, QUICK = 100_000, 10_000
PUSH_SIZE = 10_000


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def catalog(dsn: str, count: int) -> int:
    """A supplier with `count` products; returns the supplier id."""
    connection = await asyncpg.connect(dsn)
    try:
        province = await connection.fetchval(
            "INSERT INTO province (code, name_zh, name_en) VALUES ('62', '甘肃省', '') RETURNING id"
        )
        county = await connection.fetchval(
            "INSERT INTO county (code, name_zh, name_en, province)"
            " VALUES ('622901', '临夏市', '', $1) RETURNING id",
            province,
        )
        supplier = await connection.fetchval(
            "INSERT INTO supplier (credit_code, name_zh, name_en, county)"
            " VALUES ('91622901MA00000001', '临夏高原蔬菜合作社', '', $1) RETURNING id",
            county,
        )
        today, now = date.today(), datetime.now(UTC)
        columns = ["certificate_no", "scheme", "certifying_county", "valid_from", "valid_until"]
        columns += ["origin_county", "supplier", "unit", "price_fen", "name_zh", "updated_at"]
        records = [
            (
                f"BENCH{n:08d}",
                "bench",
                county,
                today,
                today,
                county,
                supplier,
                "kg",
                800,
                f"高原蔬菜{n}",
                now,
            )
            for n in range(count)
        ]
        await connection.copy_records_to_table("product", records=records, columns=columns)
        return int(supplier)
    finally:
        await connection.close()


def pushes(count: int, at: datetime, available: int) -> list[bytes]:
    """Push bodies of PUSH_SIZE updates each, as a supplier sends them."""
    stamp = at.isoformat()
    bodies = []
    for start in range(0, count, PUSH_SIZE):
        updates = [
            {
                "certificate_no": f"BENCH{n:08d}",
                "available": available + n % 50,
                "updated_at": stamp,
            }
            for n in range(start, min(start + PUSH_SIZE, count))
        ]
        bodies.append(json.dumps({"updates": updates}).encode())
    return bodies


async def timed(label: str, supplier_id: int, bodies: list[bytes], count: int) -> tuple[float, int]:
    """Seconds to apply the bodies, and how many updates were applied."""
    applied = 0
    started = time.perf_counter()
    for body in bodies:
        applied += (await apply_updates(supplier_id, parse_push(body))).applied
        print(f"\r  {label}: {applied:,}/{count:,} applied   ", end="", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - started
    log(
        f"\r  {label}: {count:,} updates in {seconds:.2f} s ({count / seconds:,.0f}/s), "
        f"{applied:,} applied"
    )
    return seconds, applied


async def main() -> None:
    count = QUICK if os.environ.get("POS_BENCH_QUICK") == "1" else FULL
    async with scratch_database("pos_bench") as dsn, opened_database(dsn):
        log(f"migrating {dsn.rsplit('/', 1)[1]}, loading {count:,} products")
        await migrate()
        supplier_id = await catalog(dsn, count)
        first = datetime.now(UTC) - timedelta(hours=1)
        new_s, _ = await timed("new", supplier_id, pushes(count, first, 100), count)
        newer_s, _ = await timed("newer", supplier_id, pushes(count, datetime.now(UTC), 200), count)
        stale_s, stale_applied = await timed("repeat", supplier_id, pushes(count, first, 1), count)
        assert stale_applied == 0
    result = {
        "bench": "stock_sync",
        "updates": count,
        "push_size": PUSH_SIZE,
        "new_s": round(new_s, 2),
        "newer_s": round(newer_s, 2),
        "stale_repeat_s": round(stale_s, 2),
        "newer_updates_per_s": round(count / newer_s),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
