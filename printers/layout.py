"""Receipt and refund slip layout: a document and a printer profile to ESC/POS bytes, pure."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Literal

from escpos.capabilities import Profile
from escpos.constants import ESC, GS, HW_INIT, QR_ECLEVEL_M
from escpos.printer import Dummy

from printers.document import ReceiptDocument, ReceiptLine, RefundDocument, ReturnedItem
from printers.profiles import PrinterProfile
from printers.text import (
    clean_text,
    display_width,
    format_fen,
    format_kg,
    pad_left,
    pad_right,
    wrap_text,
)

__all__ = ["CERTIFIED_MARK", "REFUND_TITLE", "REPRINT_BANNER", "render_receipt"]

REPRINT_BANNER = "重印 REPRINT"
REFUND_TITLE = "退款凭证"
CERTIFIED_MARK = "【认证扶贫产品】"

Align = Literal["left", "center", "right"]
Size = Literal["normal", "tall", "double"]

_ALIGN: dict[Align, bytes] = {
    "left": ESC + b"a\x00",
    "center": ESC + b"a\x01",
    "right": ESC + b"a\x02",
}
# GS ! (character size) scales Chinese and ASCII alike; ESC ! would leave Chinese unscaled.
_SIZE: dict[Size, bytes] = {"normal": GS + b"!\x00", "tall": GS + b"!\x01", "double": GS + b"!\x11"}
_BOLD = {False: ESC + b"E\x00", True: ESC + b"E\x01"}  # ESC E: emphasized, also for Chinese
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")

# Item table widths; single spaces between cells. 80 mm: name | quantity | unit price | amount.
_WIDE = (19, 8, 8, 10)
# 58 mm: the name takes its own rows, then quantity | unit price | amount.
_NARROW = (10, 9, 11)
# Returned goods on a refund slip: name | quantity, as wide as "99.999kg".
_RETURNED_WIDTH = 8


def render_receipt(document: ReceiptDocument | RefundDocument, profile: PrinterProfile) -> bytes:
    """Lay out `document` (a sale or a refund) for `profile`: ESC/POS bytes ending with a cut."""
    if isinstance(document, RefundDocument):
        return _refund_slip(document, profile)
    receipt = _Receipt(profile)
    _header(receipt, document)
    _items(receipt, document.lines)
    _totals(receipt, document)
    _footer(receipt, document)
    return receipt.finish()


class _Receipt:
    """A python-escpos Dummy plus the current style, so each change is sent once."""

    def __init__(self, profile: PrinterProfile) -> None:
        self.profile = profile
        self.columns = profile.columns
        self.printer = Dummy(profile=_escpos_profile(profile))
        self.style: tuple[Align, Size, bool] = ("left", "normal", False)
        self.printer._raw(HW_INIT)

    def line(
        self, text: str, align: Align = "left", size: Size = "normal", bold: bool = False
    ) -> None:
        # Text goes through _raw: python-escpos's text() would switch code pages on Chinese.
        self.printer._raw(self._style(align, size, bold) + self._encode(clean_text(text)) + b"\n")

    def pair(self, label: str, value: str, size: Size = "normal", bold: bool = False) -> None:
        gap = self.columns - display_width(label) - display_width(value)
        if gap > 0:
            self.line(label + " " * gap + value, size=size, bold=bold)
            return
        self.line(label, size=size, bold=bold)
        for part in wrap_text(value, self.columns):
            self.line(pad_left(part, self.columns), size=size, bold=bold)

    def rule(self) -> None:
        self.line("-" * self.columns)

    def qr(self, payload: str) -> None:
        self.printer._raw(self._style("center", "normal", False))
        size = 6 if self.profile.paper_mm == 80 else 5
        if self.profile.native_qr:
            # GS ( k: the printer draws the code, a few dozen bytes instead of a raster image.
            self.printer.qr(payload, ec=QR_ECLEVEL_M, size=size, native=True)
        else:
            self.printer.qr(payload, ec=QR_ECLEVEL_M, size=size, native=False, center=True)

    def finish(self) -> bytes:
        if self.profile.cut == "none":
            self.printer.print_and_feed(6)  # to the tear bar
        else:  # ESC d 6 (feed past the cutter), then GS V 0 or GS V 1
            self.printer.cut(mode="PART" if self.profile.cut == "partial" else "FULL")
        output: bytes = self.printer.output
        return output

    def _style(self, align: Align, size: Size, bold: bool) -> bytes:
        old_align, old_size, old_bold = self.style
        self.style = (align, size, bold)
        return (
            (b"" if align == old_align else _ALIGN[align])
            + (b"" if size == old_size else _SIZE[size])
            + (b"" if bold == old_bold else _BOLD[bold])
        )

    def _encode(self, text: str) -> bytes:
        # GB18030 sent raw; Chinese-firmware printers may also want each run inside FS & ... FS .
        if self.profile.kanji_control and not text.isascii():
            return _NON_ASCII_RUN.sub(_kanji_run, text).encode("gb18030", errors="replace")
        return text.encode("gb18030", errors="replace")


def _kanji_run(match: re.Match[str]) -> str:
    return f"\x1c&{match.group()}\x1c."  # FS & ... FS .: Chinese character mode on, then off


@lru_cache(maxsize=8)
def _escpos_profile(profile: PrinterProfile) -> Any:
    escpos_profile = Profile(
        columns=profile.columns,
        features={
            "qrCode": profile.native_qr,
            "paperFullCut": profile.cut == "full",
            "paperPartCut": profile.cut == "partial",
            "bitImageRaster": True,
        },
    )
    # python-escpos centres images (the non-native QR) on the media width in pixels.
    media = {"width": {"mm": profile.paper_mm, "pixels": profile.dots}}
    escpos_profile.profile_data = {**escpos_profile.profile_data, "media": media}
    return escpos_profile


def _header(receipt: _Receipt, document: ReceiptDocument) -> None:
    if document.reprint:
        receipt.line(REPRINT_BANNER, align="center", size="double", bold=True)
    _place(receipt, document.store_name, document.counter_name)
    receipt.pair("时间", document.printed_at.strftime("%Y-%m-%d %H:%M:%S"))
    receipt.pair("单号", document.order_number)
    receipt.rule()


def _place(receipt: _Receipt, store_name: str, counter_name: str) -> None:
    for part in wrap_text(store_name, receipt.columns // 2):
        receipt.line(part, align="center", size="double", bold=True)
    for part in wrap_text(counter_name, receipt.columns):
        receipt.line(part, align="center")


def _items(receipt: _Receipt, lines: Sequence[ReceiptLine]) -> None:
    wide = receipt.columns >= sum(_WIDE) + len(_WIDE) - 1
    header = ("商品", "数量", "单价", "金额") if wide else ("商品/数量", "单价", "金额")
    for row in _row(header, _WIDE if wide else _NARROW, receipt.columns):
        receipt.line(row)
    for item in lines:
        for row in _item_rows(item, receipt.columns, wide):
            receipt.line(row)
        for note in _item_notes(item):
            for part in wrap_text(note, receipt.columns - 2):
                receipt.line("  " + part)
    receipt.rule()


def _item_rows(item: ReceiptLine, columns: int, wide: bool) -> list[str]:
    numbers = (_quantity(item), format_fen(item.unit_price_fen), format_fen(item.amount_fen))
    if wide:
        names = wrap_text(item.name, _WIDE[0])
        return [*_row((names[0], *numbers), _WIDE, columns), *names[1:]]
    return [*wrap_text(item.name, columns), *_row(numbers, _NARROW, columns)]


def _item_notes(item: ReceiptLine) -> list[str]:
    notes = [item.markdown_note] if item.markdown_note else []
    if item.certificate_no is not None:
        notes.append(f"{CERTIFIED_MARK}证书号 {item.certificate_no}")
        if item.origin_county:
            notes.append(f"产地 {item.origin_county}")
    return notes


def _quantity(item: ReceiptLine) -> str:
    if item.unit == "kg" and item.weight_g is not None:
        return _in_kg(item.weight_g)
    return str(item.quantity)


def _returned_quantity(item: ReturnedItem) -> str:
    return _in_kg(item.units) if item.unit == "kg" else str(item.units)


def _in_kg(grams: int) -> str:
    return f"{format_kg(grams)}kg"


def _row(cells: Sequence[str], widths: Sequence[int], columns: int) -> list[str]:
    """First cell left-aligned, the rest right-aligned; an overflowing row breaks in two."""
    padded = [pad_right(cells[0], widths[0])]
    padded += [pad_left(cell, width) for cell, width in zip(cells[1:], widths[1:], strict=True)]
    row = " ".join(padded).rstrip()
    if display_width(row) <= columns:
        return [row]
    return [*wrap_text(" ".join(cells[:-1]), columns), pad_left(cells[-1], columns)]


def _totals(receipt: _Receipt, document: ReceiptDocument) -> None:
    if document.discount_fen:
        receipt.pair("小计", format_fen(document.total_fen + document.discount_fen))
        receipt.pair("优惠", format_fen(-document.discount_fen))
    receipt.pair("合计", format_fen(document.total_fen), size="tall", bold=True)
    receipt.pair("支付方式", document.payment_method)
    receipt.pair("支付单号", document.payment_reference)
    if document.refunded_fen:
        receipt.pair("已退款", format_fen(-document.refunded_fen))
        receipt.pair("实付余额", format_fen(document.total_fen - document.refunded_fen))
    receipt.rule()


def _footer(receipt: _Receipt, document: ReceiptDocument) -> None:
    if document.supported_counties:
        counties = "、".join(document.supported_counties)
        for part in wrap_text(f"本次购买支持了: {counties}", receipt.columns):
            receipt.line(part)
    receipt.line("")
    receipt.qr(document.receipt_url)
    receipt.line("扫码查看电子小票、产地与评价", align="center")
    if document.reprint:
        receipt.line(REPRINT_BANNER, align="center", bold=True)


def _refund_slip(document: RefundDocument, profile: PrinterProfile) -> bytes:
    slip = _Receipt(profile)
    if document.reprint:
        slip.line(REPRINT_BANNER, align="center", size="double", bold=True)
    slip.line(REFUND_TITLE, align="center", size="double", bold=True)
    _place(slip, document.store_name, document.counter_name)
    slip.pair("退款时间", document.refunded_at.strftime("%Y-%m-%d %H:%M:%S"))
    slip.pair("单号", document.order_number)
    slip.rule()
    if document.returned:
        _returned(slip, document.returned)
    slip.pair("本次退款", format_fen(document.amount_fen), size="tall", bold=True)
    slip.pair("累计退款", format_fen(document.refunded_fen))
    slip.pair("实付余额", format_fen(document.kept_fen))
    slip.pair("退款方式", f"原路退回 {document.payment_method}")
    slip.rule()
    if document.reprint:
        slip.line(REPRINT_BANNER, align="center", bold=True)
    return slip.finish()


def _returned(slip: _Receipt, items: Sequence[ReturnedItem]) -> None:
    widths = (slip.columns - _RETURNED_WIDTH - 1, _RETURNED_WIDTH)
    for row in _row(("退回商品", "数量"), widths, slip.columns):
        slip.line(row)
    for item in items:
        for row in _row((item.name, _returned_quantity(item)), widths, slip.columns):
            slip.line(row)
    slip.rule()
