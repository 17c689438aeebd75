"""Import the synthetic national list into fresh SQLite and PostgreSQL databases; print rows/s.

    .venv/bin/python bench/catalog_import.py          # 136,130 rows
    POS_BENCH_QUICK=1 .venv/bin/python bench/catalog_import.py   # 10,000 rows

Each database gets the list twice: a first import, then the same file again (nothing changes).
Progress goes to stderr; stdout gets one line of JSON, with the machine's 1-minute load
average before the run (the target assumes 2 otherwise idle cores). The PostgreSQL database
is created as pos_bench_<random> on 127.0.0.1 and dropped at the end.
"""

from __future__ import annotations

import asyncio
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


def progress(phase: str, done: int, total: int) -> None:
    print(f"  {phase}: {done:,}/{total:,}", file=sys.stderr, flush=True)


async def imports(database_url: str, catalog: Path) -> tuple[float, float]:
    """Seconds for a first import of `catalog` into the migrated database, then a repeat."""
    async with opened_database(database_url):
        await migrate()
        timings = []
        for label in ("import", "re-import"):
            print(f"{database_url.split(':')[0]} {label}", file=sys.stderr)
            started = time.perf_counter()
            report = await import_catalog_file(catalog, progress=progress, changed_by="bench")
            timings.append(time.perf_counter() - started)
            print(f"  {report.model_dump_json()}", file=sys.stderr)
        return timings[0], timings[1]


async def on_postgres(catalog: Path) -> tuple[float, float]:
    async with scratch_database("pos_bench") as url:
        return await imports(url, catalog)


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
        sqlite_s, sqlite_again_s = asyncio.run(imports(f"sqlite:///{tmp}/bench.sqlite3", catalog))
        postgres_s, postgres_again_s = asyncio.run(on_postgres(catalog))
    result = {
        "bench": "catalog_import",
        "rows": rows,
        "sqlite_s": round(sqlite_s, 2),
        "sqlite_rows_per_s": round(rows / sqlite_s),
        "postgres_s": round(postgres_s, 2),
        "postgres_rows_per_s": round(rows / postgres_s),
        "sqlite_reimport_s": round(sqlite_again_s, 2),
        "postgres_reimport_s": round(postgres_again_s, 2),
        "cores": os.cpu_count(),
        "load_1m_before": round(load_before, 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
