"""Catalog rows and files for tests: a valid row to change one field of, written as CSV or JSONL."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

from pos.catalog.codes import credit_code_check_char, gtin_check_digit
from pos.catalog.columns import COLUMNS

__all__ = [
    "LIXIN",
    "NANCHUAN",
    "credit_code",
    "csv_bytes",
    "gtin",
    "jsonl_bytes",
    "nanchuan_row",
    "row",
]

LIXIN, NANCHUAN = "341623", "500119"


def credit_code(county: str = LIXIN, serial: int = 1) -> str:
    """A valid unified social credit code of a company in `county`."""
    first17 = f"91{county}{serial:09d}"
    return first17 + credit_code_check_char(first17)


def gtin(serial: int) -> str:
    """A valid EAN-13 with the GS1 China prefix."""
    body = f"690{serial:09d}"
    return body + gtin_check_digit(body)


def row(n: int = 1, **changes: Any) -> dict[str, Any]:
    """Product `n` of a small valid list (dandelion noodles from Lixin), with `changes`."""
    values: dict[str, Any] = {
        "certificate_no": f"T-{n:06d}",
        "scheme": "national-2026",
        "status": "active",
        "status_notice": "",
        "valid_from": "2026-01-01",
        "valid_until": "2027-12-31",
        "certifying_county_code": LIXIN,
        "origin_county_code": LIXIN,
        "origin_county_name": "利辛县",
        "province_name": "安徽省",
        "supplier_credit_code": credit_code(),
        "supplier_name": "利辛县蒲公英种植专业合作社",
        "supplier_name_en": "Lixin Dandelion Cooperative",
        "supplier_county_code": "",
        "gtin": gtin(n),
        "unit": "piece",
        "price_fen": 1880,
        "name_zh": "利辛县蒲公英面条",
        "name_en": "Lixin Dandelion Noodles",
        "category": "noodles",
        "quality_labels": "green;gi",
        "poverty_help": "带动脱贫户增收",
        "shelf_life_days": 365,
        "origin_text": "淮北平原",
        "traceability": "基地→加工→包装",
        "image_url": "/static/img/noodles.svg",
    }
    values.update(changes)
    return values


def nanchuan_row(n: int, **changes: Any) -> dict[str, Any]:
    """Product `n`, bamboo shoots from Nanchuan, Chongqing, by a Nanchuan supplier."""
    nanchuan = {
        "certifying_county_code": NANCHUAN,
        "origin_county_code": NANCHUAN,
        "origin_county_name": "南川区",
        "province_name": "重庆市",
        "supplier_credit_code": credit_code(NANCHUAN, 2),
        "supplier_name": "南川区笋业有限公司",
        "supplier_name_en": "",
        "name_zh": "南川液氮锁鲜竹笋",
    }
    return row(n, **{**nanchuan, **changes})


def csv_bytes(rows: Iterable[dict[str, Any]], columns: Iterable[str] = COLUMNS) -> bytes:
    """The rows as CSV with a header line."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def jsonl_bytes(rows: Iterable[dict[str, Any]]) -> bytes:
    """The rows as JSON Lines."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
