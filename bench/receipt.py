"""Receipt rendering benchmark: a six-line Chinese receipt to ESC/POS bytes, many times.

Prints progress to stderr and one JSON line to stdout. POS_BENCH_QUICK=1 keeps it under 3 s.
Run: .venv/bin/python bench/receipt.py
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

from printers import PrinterProfile, render_receipt, sample_receipt

TARGET_MS = 2.0


def main() -> None:
    """Render receipts on both paper widths and report the median rate of several rounds."""
    quick = os.environ.get("POS_BENCH_QUICK") == "1"
    rounds, per_round = (3, 300) if quick else (10, 2000)
    document = sample_receipt()
    profiles = [PrinterProfile(paper_mm=80), PrinterProfile(paper_mm=58, kanji_control=True)]
    for profile in profiles:
        render_receipt(document, profile)  # warm caches (python-escpos profile, width table)
    timings = []
    for round_number in range(1, rounds + 1):
        start = time.perf_counter()
        for index in range(per_round):
            render_receipt(document, profiles[index % 2])
        timings.append((time.perf_counter() - start) / per_round)
        print(
            f"round {round_number}/{rounds}: {timings[-1] * 1000:.3f} ms per receipt",
            file=sys.stderr,
        )
    median = statistics.median(timings)
    sizes = [len(render_receipt(document, profile)) for profile in profiles]
    print(
        json.dumps(
            {
                "bench": "receipt",
                "receipts_per_s": round(1 / median),
                "ms_per_receipt": round(median * 1000, 3),
                "best_ms_per_receipt": round(min(timings) * 1000, 3),
                "bytes_per_receipt": round(sum(sizes) / len(sizes)),
                "target_ms": TARGET_MS,
                "lines": len(document.lines),
            }
        )
    )


if __name__ == "__main__":
    main()
