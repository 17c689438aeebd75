"""Certified transactions forwarded per second to the platform double, with 1 and 4 relays.

    .venv/bin/python bench/forwarding.py                      # 20,000 transactions per run
    POS_BENCH_QUICK=1 .venv/bin/python bench/forwarding.py    # 2,000

Starts everything itself: a PostgreSQL database pos_bench_<random> on 127.0.0.1 (dropped at the
end), the double (`pos platform serve`) and N relays (`pos worker`, each running the relay).
Pending rows are written first with a due time far ahead; once the relays are up, one UPDATE
makes them all due and the clock runs until every row is sent. Progress goes to stderr;
stdout gets one line of JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg

from pos.platform.schemas import TransactionDoc, TransactionLine
from pos.testing import (
    free_port,
    migrated,
    scratch_database,
    start_pos,
    stop,
    wait_until_healthy,
)

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
FULL, QUICK = 20_000, 2_000
MERCHANT = "XM-BENCH-0001"
STARTUP_S = 30.0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def body(number: int, run: str, day: date) -> str:
    """A sale of two certified lines, as the relay sends it."""
    lines = [
        TransactionLine(
            line_no=n,
            certificate_no=f"CERT{(number + n) % 500:05d}",
            product_name="利辛蒲公英面条 500g",
            supplier_code=f"91341623MA2N{number % 97:06d}",
            supplier_name="利辛县蒲公英食品有限公司",
            origin_county_code="341623",
            quantity=n,
            weight_g=None,
            amount_fen=1250 * n,
        )
        for n in (1, 2)
    ]
    return TransactionDoc(
        transaction_id=f"{MERCHANT}-{run}-S{number}",
        kind="sale",
        original_transaction_id=None,
        merchant_id=MERCHANT,
        store_code="XM-METRO-01",
        counter_code="C-01",
        device_id=None,
        order_number=f"{number:012d}",
        occurred_at=datetime.now(UTC),
        business_day=day,
        payment_reference=f"4200{number:024d}",
        buyer_region=None,
        order_total_fen=3750,
        amount_fen=3750,
        lines=lines,
    ).model_dump_json()


async def write_rows(dsn: str, count: int, run: str) -> None:
    """`count` pending rows, due in a day: the relays see nothing until `release`."""
    day, later = date.today(), datetime.now(UTC) + timedelta(days=1)
    records = [
        (f"{MERCHANT}-{run}-S{n}", "sale", n, 1, MERCHANT, day, 3750, body(n, run, day), later)
        for n in range(1, count + 1)
    ]
    columns = ["transaction_id", "kind", "order_id", "store_id", "merchant_id", "business_day"]
    columns += ["amount_fen", "body", "next_attempt_at"]
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("TRUNCATE certified_transaction")
        await connection.copy_records_to_table(
            "certified_transaction", records=records, columns=columns
        )
    finally:
        await connection.close()


async def timed_forwarding(dsn: str, count: int) -> float:
    """Make every row due now; seconds until all of them are sent."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("UPDATE certified_transaction SET next_attempt_at = now()")
        started = time.perf_counter()
        while True:
            sent = await connection.fetchval(
                "SELECT count(*) FROM certified_transaction WHERE state = 'sent'"
            )
            print(f"\r  sent {sent:,}/{count:,}   ", end="", file=sys.stderr, flush=True)
            if sent >= count:
                log("")
                return time.perf_counter() - started
            await asyncio.sleep(0.05)
    finally:
        await connection.close()


def wait_for_relays(output: Path, relays: int) -> None:
    deadline = time.monotonic() + STARTUP_S
    while output.read_text().count("relay started") < relays:
        if time.monotonic() > deadline:
            raise SystemExit(f"the relays did not start:\n{output.read_text()}")
        time.sleep(0.1)


async def run(dsn: str, env: dict[str, str], work: Path, relays: int, count: int) -> float:
    """Transactions per second with `relays` relay processes."""
    run_id = uuid.uuid4().hex[:6]
    log(f"{relays} relay(s): writing {count:,} pending transactions")
    await write_rows(dsn, count, run_id)
    output = work / f"relays-{relays}-{run_id}.log"
    output.touch()
    processes = [start_pos(["worker"], env, output) for _ in range(relays)]
    try:
        wait_for_relays(output, relays)
        seconds = await timed_forwarding(dsn, count)
    finally:
        stop(processes)
    rate = count / seconds
    log(f"  {relays} relay(s): {count:,} in {seconds:.2f} s = {rate:,.0f}/s")
    return rate


async def main() -> None:
    count = QUICK if os.environ.get("POS_BENCH_QUICK") == "1" else FULL
    port = free_port()
    async with scratch_database("pos_bench") as dsn:
        env = {
            **os.environ,
            "POS_DATABASE_URL": dsn,
            "POS_PLATFORM_URL": f"http://127.0.0.1:{port}",
            "POS_PLATFORM_IDLE_S": "0.05",
        }
        with tempfile.TemporaryDirectory() as folder:
            work = Path(folder)
            double_log = work / "double.log"
            platform_db = str(work / "platform.sqlite3")
            double = start_pos(
                ["platform", "serve", "--port", str(port), "--db", platform_db], env, double_log
            )
            try:
                await migrated(dsn)
                wait_until_healthy(env["POS_PLATFORM_URL"], double, double_log)
                rates = {n: await run(dsn, env, work, n, count) for n in (1, 4)}
            finally:
                stop([double])
    result = {
        "bench": "forwarding",
        "relays_1_tx_per_s": round(rates[1]),
        "relays_4_tx_per_s": round(rates[4]),
        "transactions": count,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
