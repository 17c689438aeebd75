"""Import the synthetic national list into fresh SQLite and PostgreSQL databases; print rows/s.

    .venv/bin/python bench/catalog_import.py          # 136,130 rows
    POS_BENCH_QUICK=1 .venv/bin/python bench/catalog_import.py   # 10,000 rows

Each database gets the list three times: a first import, the same file again (nothing changes),
then the file without its gtin and shelf_life_days columns (a delta leaving optional columns
out: the stored values are copied into every staged row, and again nothing changes).
Progress goes to stderr; stdout gets one line of JSON, with the machine's 1-minute load
average before the run (the target assumes 2 otherwise idle cores). The PostgreSQL database
is created as pos_bench_<random> on 127.0.0.1 and dropped at the end.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pos.catalog.service import import_catalog_file
from pos.db import opened_database
from pos.db.migrate import migrate
from pos.testing import scratch_database

GENERATOR = Path(__file__).parents[1] / "fixtures" / "generate_catalog.py"
FULL_ROWS, QUICK_ROWS = 136_130, 10_000
LEFT_OUT = ("gtin", "shelf_life_days")


def progress(phase: str, done: int, total: int) -> None:
    print(f"  {phase}: {done:,}/{total:,}", file=sys.stderr, flush=True)


def without_columns(catalog: Path, out: Path, left_out: tuple[str, ...]) -> None:
    """Copy the CSV `catalog` to `out` without the columns `left_out`."""
    with catalog.open(newline="", encoding="utf-8") as source:
        reader = csv.DictReader(source)
        columns = [name for name in reader.fieldnames or () if name not in left_out]
        with out.open("w", newline="", encoding="utf-8") as target:
            writer = csv.DictWriter(target, columns, extrasaction="ignore", lineterminator="\n")
            writer.writeheader()
            writer.writerows(reader)


async def imports(database_url: str, catalog: Path, delta: Path) -> list[float]:
    """Seconds for a first import of `catalog` into the migrated database, a repeat, then
    `delta`."""
    async with opened_database(database_url):
        await migrate()
        timings = []
        for label, path in (("import", catalog), ("re-import", catalog), ("delta", delta)):
            print(f"{database_url.split(':')[0]} {label}", file=sys.stderr)
            started = time.perf_counter()
            report = await import_catalog_file(path, progress=progress, changed_by="bench")
            timings.append(time.perf_counter() - started)
            print(f"  {report.model_dump_json()}", file=sys.stderr)
        return timings


async def on_postgres(catalog: Path, delta: Path) -> list[float]:
    async with scratch_database("pos_bench") as url:
        return await imports(url, catalog, delta)


def main() -> None:
    rows = QUICK_ROWS if os.environ.get("POS_BENCH_QUICK") == "1" else FULL_ROWS
    # Other work on the machine slows every figure; the load says how much there was.
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="pos_bench_") as tmp:
        catalog = Path(tmp) / "catalog.csv"
        subprocess.run(
            [sys.executable, str(GENERATOR), "--rows", str(rows), "--out", str(catalog)],
            check=True,
        )
        delta = Path(tmp) / "delta.csv"
        without_columns(catalog, delta, LEFT_OUT)
        sqlite_s, sqlite_again_s, sqlite_delta_s = asyncio.run(
            imports(f"sqlite:///{tmp}/bench.sqlite3", catalog, delta)
        )
        postgres_s, postgres_again_s, postgres_delta_s = asyncio.run(on_postgres(catalog, delta))
    result = {
        "bench": "catalog_import",
        "rows": rows,
        "sqlite_s": round(sqlite_s, 2),
        "sqlite_rows_per_s": round(rows / sqlite_s),
        "postgres_s": round(postgres_s, 2),
        "postgres_rows_per_s": round(rows / postgres_s),
        "sqlite_reimport_s": round(sqlite_again_s, 2),
        "postgres_reimport_s": round(postgres_again_s, 2),
        "sqlite_delta_s": round(sqlite_delta_s, 2),
        "postgres_delta_s": round(postgres_delta_s, 2),
        "cores": os.cpu_count(),
        "load_1m_before": round(load_before, 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
