from __future__ import annotations

import pytest

from printers.errors import PrinterConfigError
from printers.profiles import (
    CupsAddress,
    FileAddress,
    PrinterAddress,
    PrinterProfile,
    SerialAddress,
    TcpAddress,
    UsbAddress,
    parse_printer_url,
    printer_profile,
)


def test_paper_width_gives_columns_and_dots() -> None:
    assert (PrinterProfile(paper_mm=58).columns, PrinterProfile(paper_mm=58).dots) == (32, 384)
    assert (PrinterProfile(paper_mm=80).columns, PrinterProfile(paper_mm=80).dots) == (48, 576)


def test_other_paper_widths_are_refused() -> None:
    with pytest.raises(PrinterConfigError):
        PrinterProfile(paper_mm=76)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("tcp://192.168.1.50:9100", TcpAddress("192.168.1.50", 9100)),
        ("tcp://printer.local", TcpAddress("printer.local", 9100)),
        ("tcp://[::1]:9101", TcpAddress("::1", 9101)),
        ("usb://0x0416:0x5011", UsbAddress(0x0416, 0x5011)),
        ("usb://04b8:0202?in_ep=0x81&out_ep=0x02", UsbAddress(0x04B8, 0x0202, 0x81, 0x02)),
        ("serial:///dev/ttyS0?baudrate=9600", SerialAddress("/dev/ttyS0", 9600)),
        ("serial:///dev/ttyUSB0", SerialAddress("/dev/ttyUSB0", 9600)),
        ("serial:///dev/ttyUSB0?baudrate=115200", SerialAddress("/dev/ttyUSB0", 115200)),
        ("file:///dev/usb/lp0", FileAddress("/dev/usb/lp0")),
        ("cups://Receipt_Printer", CupsAddress("Receipt_Printer")),
        ("cups://Kasse%201", CupsAddress("Kasse 1")),
    ],
)
def test_printer_urls_parse(url: str, address: PrinterAddress) -> None:
    assert parse_printer_url(url) == address


@pytest.mark.parametrize(
    "url",
    [
        "lpt://1",
        "tcp://",
        "tcp://host:notaport",
        "tcp://host:9100/path",
        "tcp://[fe80::1:9100",  # an unclosed bracket
        "tcp://printer..local:9100",  # an empty label: no connection could ever be made
        "usb://0x0416",
        "usb://zz:0x5011",
        "serial://ttyS0",
        "serial:///dev/ttyS0?baudrate=1234",
        "serial:///dev/ttyS0?baud=9600",
        "file://relative",
        "cups://",
        "/dev/usb/lp0",
    ],
)
def test_bad_printer_urls_raise_config_errors(url: str) -> None:
    with pytest.raises(PrinterConfigError):
        parse_printer_url(url)


def test_a_printer_url_says_what_its_printer_can_do() -> None:
    url = "tcp://10.0.0.5:9100?cut=none&qr=image&chinese_mode=on"
    assert parse_printer_url(url) == TcpAddress("10.0.0.5", 9100)
    assert printer_profile(url, paper_mm=58) == PrinterProfile(
        paper_mm=58, cut="none", native_qr=False, kanji_control=True
    )


@pytest.mark.parametrize("cut", ["full", "partial", "none"])
def test_a_printer_url_says_how_its_printer_cuts(cut: str) -> None:
    assert printer_profile(f"tcp://10.0.0.5?cut={cut}", paper_mm=80).cut == cut


def test_a_printer_url_without_options_gets_the_default_profile() -> None:
    assert printer_profile("usb://0x0416:0x5011", paper_mm=80) == PrinterProfile(paper_mm=80)
    assert printer_profile("serial:///dev/ttyS0?baudrate=19200&cut=full", paper_mm=80) == (
        PrinterProfile(paper_mm=80, cut="full")
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("tcp://h?cut=sometimes", "cut='sometimes', use cut=full or cut=partial or cut=none"),
        ("tcp://h?qr=", "qr='', use qr=native or qr=image"),
        ("file:///dev/usb/lp0?chinese_mode=1", "chinese_mode='1', use chinese_mode=off or chinese"),
        ("tcp://h?cutter=none", r"unknown option\(s\) cutter .* takes chinese_mode, cut, qr"),
        ("serial:///dev/ttyS0?baud=9600", "takes baudrate, chinese_mode, cut, qr"),
    ],
)
def test_a_bad_printer_option_is_refused_naming_what_it_takes(url: str, message: str) -> None:
    with pytest.raises(PrinterConfigError, match=message):
        parse_printer_url(url)


@pytest.mark.parametrize(
    ("url", "option"),
    [
        ("tcp://h?cut=none&cut=full", "cut"),
        ("tcp://h?qr=image&cut=none&qr=image", "qr"),  # the same value twice is refused as well
        ("file:///dev/usb/lp0?chinese_mode=on&chinese_mode=", "chinese_mode"),
        ("serial:///dev/ttyS0?baudrate=9600&baudrate=19200", "baudrate"),
        ("usb://0x0416:0x5011?out_ep=0x02&in_ep=0x81&out_ep=0x03", "out_ep"),
        ("tcp://h?c%75t=none&cut=full", "cut"),  # the name as it is decoded
    ],
)
def test_an_option_given_twice_is_refused_naming_it(url: str, option: str) -> None:
    with pytest.raises(PrinterConfigError, match=rf": {option} is given more than once"):
        printer_profile(url, paper_mm=80)
