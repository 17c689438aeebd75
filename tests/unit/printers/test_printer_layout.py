from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from typing import Literal

import pytest

from printers.decoder import Cut, PrintedLine, RasterImage, decode
from printers.document import ReceiptDocument, ReceiptLine, RefundDocument, ReturnedItem
from printers.layout import REFUND_TITLE, REPRINT_BANNER, _escpos_profile, render_receipt
from printers.profiles import PrinterProfile, printer_profile
from printers.samples import sample_receipt, sample_refund
from printers.text import display_width, format_fen

PROFILES = [PrinterProfile(paper_mm=58), PrinterProfile(paper_mm=80)]


def item(name: str, **changes: object) -> ReceiptLine:
    line = ReceiptLine(
        name=name,
        quantity=1,
        weight_g=None,
        unit="piece",
        unit_price_fen=990,
        amount_fen=990,
        certificate_no=None,
        origin_county=None,
    )
    return replace(line, **changes)  # type: ignore[arg-type]


def printed(
    document: ReceiptDocument | RefundDocument, profile: PrinterProfile
) -> list[PrintedLine]:
    return [
        e for e in decode(render_receipt(document, profile)).elements if isinstance(e, PrintedLine)
    ]


def texts(document: ReceiptDocument | RefundDocument, profile: PrinterProfile) -> list[str]:
    return [line.text for line in printed(document, profile)]


@pytest.mark.parametrize("profile", PROFILES, ids=["58mm", "80mm"])
def test_no_printed_line_is_wider_than_the_paper(profile: PrinterProfile) -> None:
    for line in printed(sample_receipt(reprint=True), profile):
        assert display_width(line.text) * line.style.width <= profile.columns, line.text


@pytest.mark.parametrize("profile", PROFILES, ids=["58mm", "80mm"])
def test_amounts_end_in_the_last_column_whatever_the_name_script(profile: PrinterProfile) -> None:
    names = ["赣南脐橙", "Apple", "ＡＢＣ全角", "云南小粒咖啡 1kg"]
    document = replace(
        sample_receipt(), lines=tuple(item(name, amount_fen=12345) for name in names)
    )
    rows = [text for text in texts(document, profile) if text.endswith(" 123.45")]
    assert len(rows) == len(names)
    assert {display_width(row) for row in rows} == {profile.columns}


def test_on_80mm_the_quantity_and_price_columns_line_up_after_chinese_names() -> None:
    profile = PrinterProfile(paper_mm=80)
    document = replace(sample_receipt(), lines=(item("赣南脐橙"), item("Apples")))
    rows = [text for text in texts(document, profile) if text.endswith("9.90")]
    assert [display_width(row[: row.index(" 1 ")]) for row in rows] == [26, 26]


LONG_NAMES = {
    "chinese": "贵州黔东南从江县高山生态散养香猪腊肉烟熏礼盒装特级",
    "mixed": "Organic 云南 Arabica 小粒咖啡豆 medium-roast 500g×2袋装 Gift-Box",
}


@pytest.mark.parametrize("profile", PROFILES, ids=["58mm", "80mm"])
@pytest.mark.parametrize("name", LONG_NAMES.values(), ids=LONG_NAMES.keys())
def test_a_name_too_long_for_its_row_wraps_and_the_amount_keeps_the_last_column(
    profile: PrinterProfile, name: str
) -> None:
    line = item(name, quantity=12, unit_price_fen=1234567, amount_fen=14814804)
    lines = printed(replace(sample_receipt(), lines=(line,)), profile)
    assert all(display_width(e.text) * e.style.width <= profile.columns for e in lines)
    start = next(i for i, e in enumerate(lines) if e.text.startswith(name[:3])) - 1
    end = next(i for i, e in enumerate(lines) if i > start and e.text == "-" * profile.columns)
    rows = [e.text for e in lines[start + 1 : end]]
    numbers = re.compile(r"(^| +)12 +12345\.67 +148148\.04$")  # quantity, unit price, amount
    (row,) = [row for row in rows if numbers.search(row)]
    assert display_width(row) == profile.columns
    name_rows = [numbers.sub("", row) for row in rows]
    assert "".join(name_rows).replace(" ", "") == name.replace(" ", "")
    assert len([row for row in name_rows if row]) > 1


def test_long_names_wrap_without_losing_characters() -> None:
    name = "贵州从江香猪腊肉礼盒装特级五百克两袋装"
    for profile in PROFILES:
        lines = texts(replace(sample_receipt(), lines=(item(name),)), profile)
        start = next(i for i, text in enumerate(lines) if text.startswith("贵州"))
        joined = "".join(text.split("  ")[0].strip() for text in lines[start : start + 3])
        assert name in joined


def test_weight_lines_show_kilograms_with_three_decimals() -> None:
    line = item("赣南脐橙", quantity=None, weight_g=2350, unit="kg", unit_price_fen=1290)
    for profile in PROFILES:
        assert any(
            "2.350kg" in text for text in texts(replace(sample_receipt(), lines=(line,)), profile)
        )


def test_totals_show_subtotal_and_discount_only_with_a_discount() -> None:
    profile = PrinterProfile(paper_mm=80)
    with_discount = texts(sample_receipt(discount_fen=500), profile)
    total = next(t for t in with_discount if t.startswith("合计"))
    assert total.endswith(format_fen(sample_receipt(discount_fen=500).total_fen))
    assert any(t.startswith("优惠") and t.endswith("-5.00") for t in with_discount)
    assert any(t.startswith("小计") and t.endswith("286.68") for t in with_discount)
    without = texts(sample_receipt(discount_fen=0), profile)
    assert not any(t.startswith(("优惠", "小计")) for t in without)


def test_total_is_printed_tall_and_bold() -> None:
    total = next(
        line for line in printed(sample_receipt(), PROFILES[1]) if line.text.startswith("合计")
    )
    assert (total.style.bold, total.style.width, total.style.height) == (True, 1, 2)


def test_each_certified_line_carries_the_mark_certificate_and_county() -> None:
    document = sample_receipt()
    joined = "\n".join(texts(document, PrinterProfile(paper_mm=80)))
    certified = [line for line in document.lines if line.certified]
    assert joined.count("【认证扶贫产品】") == len(certified)
    for line in certified:
        assert f"证书号 {line.certificate_no}" in joined
        assert f"产地 {line.origin_county}" in joined


def test_an_uncertified_line_has_no_mark() -> None:
    document = replace(sample_receipt(), lines=(item("Mineral water"),), supported_counties=())
    joined = "\n".join(texts(document, PrinterProfile(paper_mm=80)))
    assert "认证扶贫产品" not in joined
    assert "本次购买支持了" not in joined


def test_supported_counties_are_listed() -> None:
    joined = "".join(texts(sample_receipt(), PrinterProfile(paper_mm=80)))
    assert "本次购买支持了: 云南省福贡县、江西省寻乌县、贵州省从江县" in joined


def test_markdown_note_is_printed_under_its_line() -> None:
    lines = texts(sample_receipt(), PrinterProfile(paper_mm=58))
    assert lines[lines.index("甘肃定西马铃薯粉条") + 2] == "  临期7折"


def test_reprint_banner_is_double_size_at_the_top_and_repeated_at_the_end() -> None:
    lines = printed(sample_receipt(reprint=True), PrinterProfile(paper_mm=58))
    banners = [line for line in lines if line.text == REPRINT_BANNER]
    assert len(banners) == 2
    assert lines[0] == banners[0]
    assert (banners[0].style.width, banners[0].style.height, banners[0].style.bold) == (2, 2, True)
    assert REPRINT_BANNER not in texts(sample_receipt(), PrinterProfile(paper_mm=58))


def test_header_has_store_counter_local_time_and_order_number() -> None:
    lines = texts(sample_receipt(), PrinterProfile(paper_mm=80))
    assert lines[0] == "消费帮扶专柜 北京西站店"
    assert lines[1] == "地铁7号线北京西站 A口 2号柜"
    assert lines[2] == "时间" + " " * 25 + "2024-05-01 14:03:22"
    assert lines[3] == "单号" + " " * 31 + "20240501-0042"


def test_receipt_has_a_native_qr_with_the_receipt_url_and_ends_with_a_cut() -> None:
    data = render_receipt(sample_receipt(), PrinterProfile(paper_mm=80))
    receipt = decode(data)
    assert receipt.qr_payloads == ("https://pos.example.cn/r/20240501-0042?k=8f3a2c",)
    assert b"\x1d(k" in data
    assert receipt.cuts == 1
    assert data.endswith(b"\x1dV\x00")


def test_without_native_qr_the_code_is_a_raster_image() -> None:
    data = render_receipt(sample_receipt(), PrinterProfile(paper_mm=58, native_qr=False))
    receipt = decode(data)
    assert b"\x1d(k" not in data
    images = [e for e in receipt.elements if isinstance(e, RasterImage)]
    assert len(images) == 1
    assert images[0].width <= 384


def test_without_cutter_the_paper_is_fed_to_the_tear_bar() -> None:
    data = render_receipt(sample_receipt(), PrinterProfile(paper_mm=80, cut="none"))
    assert b"\x1dV" not in data
    assert data.endswith(b"\x1bd\x06")


@pytest.mark.parametrize(("cut", "command"), [("full", b"\x1dV\x00"), ("partial", b"\x1dV\x01")])
def test_receipts_and_refund_slips_end_with_the_cut_the_printer_url_names(
    cut: str, command: bytes
) -> None:
    profile = printer_profile(f"tcp://10.0.0.5:9100?cut={cut}", paper_mm=58)
    for document in (sample_receipt(), sample_refund()):
        data = render_receipt(document, profile)
        assert data.endswith(command)
        assert [e for e in decode(data).elements if isinstance(e, Cut)] == [
            Cut(partial=cut == "partial")
        ]


@pytest.mark.parametrize(
    ("cut", "full", "part"),
    [("full", True, False), ("partial", False, True), ("none", False, False)],
)
def test_python_escpos_is_told_of_the_one_cut_the_printer_makes(
    cut: Literal["full", "partial", "none"], full: bool, part: bool
) -> None:
    capabilities = _escpos_profile(PrinterProfile(paper_mm=80, cut=cut))
    assert capabilities.supports("paperFullCut") is full
    assert capabilities.supports("paperPartCut") is part


def test_a_printer_url_without_cutter_or_native_qr_gets_neither_command() -> None:
    profile = printer_profile("tcp://10.0.0.5:9100?cut=none&qr=image", paper_mm=80)
    data = render_receipt(sample_receipt(), profile)
    assert b"\x1dV" not in data  # GS V: cut
    assert b"\x1d(k" not in data  # GS ( k: native QR
    images = [e for e in decode(data).elements if isinstance(e, RasterImage)]
    assert len(images) == 1


def test_chinese_is_sent_as_raw_gb18030_without_code_page_switches() -> None:
    data = render_receipt(sample_receipt(), PrinterProfile(paper_mm=80))
    assert "赣南脐橙".encode("gb18030") in data
    assert b"\x1bt" not in data  # ESC t: select character code table


def test_kanji_control_wraps_chinese_runs_in_fs_and_fs_dot() -> None:
    profile = PrinterProfile(paper_mm=80, kanji_control=True)
    data = render_receipt(sample_receipt(), profile)
    assert b"\x1c&" + "赣南脐橙".encode("gb18030") + b"\x1c." in data
    assert texts(sample_receipt(), profile) == texts(sample_receipt(), PrinterProfile(paper_mm=80))


def test_control_characters_in_names_cannot_inject_commands() -> None:
    document = replace(sample_receipt(), lines=(item("evil\x1dV\x00name"),))
    data = render_receipt(document, PrinterProfile(paper_mm=80))
    assert b"evil\x1dV" not in data
    assert decode(data).cuts == 1


def test_rendering_twice_gives_the_same_bytes() -> None:
    profile = PrinterProfile(paper_mm=58)
    assert render_receipt(sample_receipt(), profile) == render_receipt(sample_receipt(), profile)


def test_document_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        replace(sample_receipt(), printed_at=datetime(2024, 5, 1, 14, 3))


def test_lines_need_quantity_or_weight_for_their_unit() -> None:
    with pytest.raises(ValueError, match="quantity"):
        item("x", quantity=None)
    with pytest.raises(ValueError, match="weight_g"):
        item("x", unit="kg")


@pytest.mark.parametrize("native_qr", [True, False])
def test_python_escpos_prints_nothing_to_stdout(
    capsys: pytest.CaptureFixture[str], native_qr: bool
) -> None:
    render_receipt(sample_receipt(), PrinterProfile(paper_mm=58, native_qr=native_qr))
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("profile", PROFILES, ids=["58mm", "80mm"])
def test_no_refund_slip_line_is_wider_than_the_paper(profile: PrinterProfile) -> None:
    for line in printed(sample_refund(), profile):
        assert display_width(line.text) * line.style.width <= profile.columns, line.text


@pytest.mark.parametrize("profile", PROFILES, ids=["58mm", "80mm"])
def test_refund_slip_shows_the_refund_the_totals_and_the_goods_back(
    profile: PrinterProfile,
) -> None:
    lines = texts(sample_refund(), profile)
    columns = profile.columns
    assert lines[0] == REFUND_TITLE
    assert "退款时间" + " " * (columns - 27) + "2024-05-02 09:15:04" in lines
    assert "单号" + " " * (columns - 17) + "20240501-0042" in lines
    assert "本次退款" + " " * (columns - 14) + "174.00" in lines
    assert "累计退款" + " " * (columns - 14) + "174.00" in lines
    assert "实付余额" + " " * (columns - 14) + "107.68" in lines
    assert "退款方式" + " " * (columns - 25) + "原路退回 微信支付" in lines
    assert "Mineral water 550ml" + " " * (columns - 20) + "3" in lines
    assert any(line.startswith("贵州从江香猪腊肉") for line in lines)
    assert decode(render_receipt(sample_refund(), profile)).cuts == 1


def test_on_58mm_a_long_returned_name_wraps_and_its_units_keep_the_last_column() -> None:
    lines = texts(sample_refund(), PrinterProfile(paper_mm=58))
    first = lines.index("退回商品" + " " * 20 + "数量")
    assert lines[first + 1 : first + 4] == [
        "贵州从江香猪腊肉礼盒装 特级 500g",
        "×2",
        " " * 31 + "1",
    ]


@pytest.mark.parametrize("profile", PROFILES, ids=["58mm", "80mm"])
def test_weighed_goods_back_print_their_weight_in_the_last_column(profile: PrinterProfile) -> None:
    returned = (ReturnedItem(name="南部脆红李", units=99_999, unit="kg"),)
    lines = texts(replace(sample_refund(), returned=returned), profile)
    (row,) = [line for line in lines if line.startswith("南部脆红李")]
    assert row.endswith(" 99.999kg")
    assert display_width(row) == profile.columns


def test_a_refund_slip_printed_again_says_reprint_at_the_top_and_the_end() -> None:
    lines = texts(replace(sample_refund(), reprint=True), PrinterProfile(paper_mm=58))
    assert lines[:2] == [REPRINT_BANNER, REFUND_TITLE]
    assert lines[-1] == REPRINT_BANNER
    assert REPRINT_BANNER not in texts(sample_refund(), PrinterProfile(paper_mm=58))


def test_refund_slip_without_goods_back_has_no_goods_table() -> None:
    document = replace(sample_refund(), returned=())
    lines = texts(document, PrinterProfile(paper_mm=80))
    assert not any(line.startswith("退回商品") for line in lines)
    assert any(line.startswith("本次退款") for line in lines)


def test_refund_slip_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        replace(sample_refund(), refunded_at=datetime(2024, 5, 2, 9, 15))


def test_returned_item_names_cannot_inject_commands() -> None:
    evil = (ReturnedItem(name="evil\x1dV\x00name", units=1),)
    data = render_receipt(replace(sample_refund(), returned=evil), PrinterProfile(paper_mm=80))
    assert b"evil\x1dV" not in data
    assert decode(data).cuts == 1


def test_a_reprint_after_refunds_says_what_was_refunded_and_what_stays_paid() -> None:
    document = sample_receipt(reprint=True, refunded_fen=17400)
    lines = texts(document, PrinterProfile(paper_mm=80))
    paid_by = next(n for n, line in enumerate(lines) if line.startswith("支付单号"))
    refunded, kept = lines[paid_by + 1], lines[paid_by + 2]
    assert (refunded.split()[0], refunded.split()[-1]) == ("已退款", "-174.00")
    assert (kept.split()[0], kept.split()[-1]) == (
        "实付余额",
        f"{(document.total_fen - 17400) / 100:.2f}",
    )
    plain = texts(sample_receipt(reprint=True), PrinterProfile(paper_mm=80))
    assert not any("已退款" in line for line in plain)
