from __future__ import annotations

import pytest

from printers.decoder import (
    Cut,
    DecodedReceipt,
    Decoder,
    Feed,
    PrintedLine,
    QrCode,
    RasterImage,
    StatusRequest,
    TextStyle,
    decode,
)
from printers.layout import render_receipt
from printers.profiles import PrinterProfile
from printers.samples import sample_receipt

ESC, GS = b"\x1b", b"\x1d"


def test_chinese_text_and_styles_round_trip() -> None:
    data = (
        ESC
        + b"@"
        + ESC
        + b"a\x01"
        + GS
        + b"!\x11"
        + ESC
        + b"E\x01"
        + "扶贫专柜".encode("gb18030")
        + b"\n"
        + ESC
        + b"a\x00"
        + GS
        + b"!\x00"
        + ESC
        + b"E\x00"
        + "赣南脐橙 2.350kg".encode("gb18030")
        + b"\n"
    )
    assert decode(data).elements == (
        PrintedLine("扶贫专柜", TextStyle(align="center", bold=True, width=2, height=2)),
        PrintedLine("赣南脐橙 2.350kg"),
    )


def test_esc_bang_sets_bold_and_double_size() -> None:
    line = decode(ESC + b"!\x38" + b"TOTAL\n").elements[0]
    assert line == PrintedLine("TOTAL", TextStyle(bold=True, width=2, height=2))


def test_kanji_mode_brackets_do_not_show_in_text() -> None:
    assert decode(b"\x1c&" + "脐橙".encode("gb18030") + b"\x1c.ok\n").text_lines == ("脐橙ok",)


def test_qr_payload_module_size_and_error_correction_are_read() -> None:
    data = render_receipt(sample_receipt(), PrinterProfile(paper_mm=58))
    qr = next(e for e in decode(data).elements if isinstance(e, QrCode))
    assert qr == QrCode("https://pos.example.cn/r/20240501-0042?k=8f3a2c", 5, "M", "center")


@pytest.mark.parametrize(
    ("command", "partial"),
    [
        (b"\x00", False),
        (b"0", False),
        (b"\x01", True),
        (b"1", True),
        (b"A\x10", False),
        (b"B\x00", True),
    ],
)
def test_every_cut_form_ends_a_page(command: bytes, partial: bool) -> None:
    receipt = decode(b"a\n" + GS + b"V" + command + b"b\n")
    assert receipt.elements == (PrintedLine("a"), Cut(partial=partial), PrintedLine("b"))


def test_the_text_tells_a_partial_cut_from_a_full_one() -> None:
    receipt = decode(b"a\n" + GS + b"V\x01" + b"b\n" + GS + b"V\x00")
    assert receipt.to_text() == "a\n[PARTIAL CUT]\nb\n[CUT]\n"


def test_cut_carries_the_raw_bytes_of_its_page() -> None:
    first, second = b"\x1b@one\n\x1dV\x00", b"two\n\x1dV\x01"
    cuts = [e for e in Decoder().feed(first + second) if isinstance(e, Cut)]
    assert [cut.raw for cut in cuts] == [first, second]


def test_status_requests_are_events_but_not_part_of_the_page() -> None:
    decoder = Decoder()
    events = decoder.feed(b"\x10\x04\x01abc\n\x10\x04\x04")
    assert events == [StatusRequest(1), PrintedLine("abc"), StatusRequest(4)]
    assert decoder.pending_raw == b"abc\n"
    assert decode(b"\x10\x04\x01abc\n").elements == (PrintedLine("abc"),)


def test_byte_by_byte_feeding_gives_the_same_receipt() -> None:
    data = render_receipt(
        sample_receipt(reprint=True), PrinterProfile(paper_mm=58, kanji_control=True)
    )
    decoder, events = Decoder(), []
    for index in range(len(data)):
        events += decoder.feed(data[index : index + 1])
    events += decoder.flush()
    assert DecodedReceipt(tuple(e for e in events if not isinstance(e, StatusRequest))) == decode(
        data
    )


def test_commands_we_do_not_print_are_skipped_by_length() -> None:
    data = (
        ESC
        + b"t\x00"
        + ESC
        + b"p\x00\x19\xfa"
        + GS
        + b"L\x00\x00"
        + ESC
        + b"D\x08\x10\x00"
        + GS
        + b"k\x02123456789012\x00"
        + GS
        + b"(L\x02\x0002"
        + ESC
        + b"*\x00\x02\x00\xff\xff"
        + b"\x10\x14\x01\x00\x01"
        + b"after\n"
    )
    assert decode(data).text_lines == ("after",)


def test_raster_image_is_kept_with_its_size() -> None:
    data = GS + b"v0\x00\x02\x00\x03\x00" + bytes(6) + b"x\n"
    image, line = decode(data).elements
    assert image == RasterImage(16, 3, bytes(6))
    assert line == PrintedLine("x")


def test_feeds_flush_pending_text() -> None:
    assert decode(b"abc" + ESC + b"d\x03").elements == (PrintedLine("abc"), Feed(90))


def test_init_discards_unprinted_text_and_resets_style() -> None:
    assert decode(ESC + b"E\x01half" + ESC + b"@whole\n").elements == (PrintedLine("whole"),)


def test_text_without_a_final_line_feed_is_flushed_at_the_end() -> None:
    assert decode(b"tail").text_lines == ("tail",)


def test_to_text_marks_styles_qr_and_cuts() -> None:
    receipt = DecodedReceipt(
        (
            PrintedLine("店", TextStyle(align="center", bold=True, width=2, height=2)),
            PrintedLine("plain"),
            PrintedLine("合计", TextStyle(height=2)),
            QrCode("https://x"),
            Feed(30),
            Cut(),
        )
    )
    assert receipt.to_text() == "[center bold 2x] 店\nplain\n[2h] 合计\n[QR] https://x\n[CUT]\n"
    assert receipt.text_lines == ("店", "plain", "合计")
    assert receipt.qr_payloads == ("https://x",)
    assert receipt.cuts == 1
