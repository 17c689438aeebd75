"""CSV exports of the figures, for spreadsheets: UTF-8 with a byte-order mark (Excel reads
Chinese names right only with it), one header row, money in integer fen as in the API.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from pos.analytics.schemas import CohortsOut, RepeatOut, SalesOut

__all__ = ["cohorts_csv", "repeat_csv", "sales_csv"]

_BOM = "\ufeff"


def _csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return _BOM + out.getvalue()


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    # A name starting with one of these may run as a formula in a spreadsheet (OWASP CSV injection).
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return "" if value is None else value


def sales_csv(sales: SalesOut) -> str:
    """One row per province, county, supplier, product or day."""
    header = [sales.by, "name", "net_fen", "certified_fen", "quantity", "weight_g"]
    return _csv(
        header,
        (
            [_cell(r.key), _cell(r.name), r.net_fen, r.certified_fen, r.quantity, r.weight_g]
            for r in sales.rows
        ),
    )


def cohorts_csv(figures: CohortsOut) -> str:
    """One row per cohort and offset: buyers active then and their share of the cohort."""
    header = ["cohort", f"{figures.grain}s_later", "size", "active", "retention"]
    return _csv(
        header,
        (
            [
                cohort.cohort.isoformat(),
                offset,
                cohort.size,
                active,
                _cell(cohort.retention[offset]),
            ]
            for cohort in figures.cohorts
            for offset, active in enumerate(cohort.active)
        ),
    )


def repeat_csv(figures: RepeatOut) -> str:
    """One row per product or origin county."""
    header = [figures.by, "name", "buyers", "repeat_buyers", "repeat_rate"]
    return _csv(
        header,
        (
            [_cell(r.key), _cell(r.name), r.buyers, r.repeat_buyers, _cell(r.repeat_rate)]
            for r in figures.rows
        ),
    )
