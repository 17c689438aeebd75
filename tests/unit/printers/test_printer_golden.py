"""Receipts compared byte for byte with fixtures/receipts; POS_REGENERATE_GOLDEN=1 rewrites them."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from printers.decoder import decode
from printers.document import ReceiptDocument
from printers.layout import render_receipt
from printers.profiles import PrinterProfile
from printers.samples import sample_receipt

GOLDEN = Path(__file__).resolve().parents[3] / "fixtures" / "receipts"
REGENERATE = os.environ.get("POS_REGENERATE_GOLDEN") == "1"

CASES: dict[str, tuple[ReceiptDocument, PrinterProfile]] = {
    "sale_80mm": (sample_receipt(), PrinterProfile(paper_mm=80)),
    "sale_58mm": (sample_receipt(), PrinterProfile(paper_mm=58)),
    "reprint_kanji_58mm": (
        sample_receipt(reprint=True),
        PrinterProfile(paper_mm=58, kanji_control=True),
    ),
    "no_discount_no_cutter_80mm": (
        replace(sample_receipt(discount_fen=0), supported_counties=()),
        PrinterProfile(paper_mm=80, cut="none"),
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_receipt_bytes_match_the_golden_file(name: str) -> None:
    document, profile = CASES[name]
    data = render_receipt(document, profile)
    binary, text = GOLDEN / f"{name}.bin", GOLDEN / f"{name}.txt"
    if REGENERATE:
        binary.write_bytes(data)
        text.write_text(decode(data).to_text(), encoding="utf-8")
    hint = f"{name}: differs from {binary}; regenerate with POS_REGENERATE_GOLDEN=1 if intended"
    assert binary.exists(), hint
    assert data == binary.read_bytes(), hint
    assert decode(data).to_text() == text.read_text(encoding="utf-8")
