"""Printer profiles (paper, encoding, capabilities) and printer connection URLs.

A URL may also say what its printer can do, whatever the connection:
`tcp://10.0.0.5:9100?cut=none&qr=image&chinese_mode=on` (see `_PROFILE_OPTIONS`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from printers.errors import PrinterConfigError

__all__ = [
    "CupsAddress",
    "FileAddress",
    "PrinterAddress",
    "PrinterProfile",
    "SerialAddress",
    "TcpAddress",
    "UsbAddress",
    "parse_printer_url",
    "printer_profile",
]

BAUDRATES = frozenset({1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200})
_COLUMNS = {58: 32, 80: 48}  # font A, 12 dots per column
_DOTS = {58: 384, 80: 576}  # printable width at 203 dpi


@dataclass(frozen=True, slots=True, kw_only=True)
class PrinterProfile:
    """What the layout needs to know about a printer model."""

    paper_mm: Literal[58, 80] = 80
    encoding: Literal["gb18030"] = "gb18030"
    kanji_control: bool = False  # wrap Chinese runs in `FS &` ... `FS .` (Chinese firmware)
    native_qr: bool = True  # `GS ( k`; otherwise the QR is sent as a raster image
    cut: Literal["full", "partial", "none"] = "full"  # partial: a hinge holds the receipt

    def __post_init__(self) -> None:
        if self.paper_mm not in _COLUMNS:
            raise PrinterConfigError(f"paper width must be 58 or 80 mm, not {self.paper_mm}")

    @property
    def columns(self) -> int:
        """Characters per line in font A (a Chinese character takes two)."""
        return _COLUMNS[self.paper_mm]

    @property
    def dots(self) -> int:
        """Printable width in dots."""
        return _DOTS[self.paper_mm]


@dataclass(frozen=True, slots=True)
class _ProfileOption:
    """A URL option for one PrinterProfile field: the values an operator may write, and theirs."""

    field: str
    values: dict[str, object]


# Defaults first; each default is the PrinterProfile field's own default.
_PROFILE_OPTIONS = {
    # none: no cutter, the paper is fed to the tear bar
    "cut": _ProfileOption("cut", {"full": "full", "partial": "partial", "none": "none"}),
    "qr": _ProfileOption("native_qr", {"native": True, "image": False}),  # image: no `GS ( k`
    "chinese_mode": _ProfileOption("kanji_control", {"off": False, "on": True}),  # `FS &`
}


@dataclass(frozen=True, slots=True)
class TcpAddress:
    """A network printer, raw port 9100 by default."""

    host: str
    port: int = 9100


@dataclass(frozen=True, slots=True)
class UsbAddress:
    """A USB printer by vendor and product id."""

    vendor_id: int
    product_id: int
    in_ep: int = 0x82
    out_ep: int = 0x01


@dataclass(frozen=True, slots=True)
class SerialAddress:
    """A serial printer (8N1, no flow control)."""

    device: str
    baudrate: int = 9600


@dataclass(frozen=True, slots=True)
class FileAddress:
    """A device file such as /dev/usb/lp0 (or a plain file, for capture)."""

    path: str


@dataclass(frozen=True, slots=True)
class CupsAddress:
    """A raw CUPS queue."""

    queue: str


PrinterAddress = TcpAddress | UsbAddress | SerialAddress | FileAddress | CupsAddress


def parse_printer_url(url: str) -> PrinterAddress:
    """Parse `tcp://host:9100`, `usb://0x0416:0x5011`, `serial:///dev/ttyS0?baudrate=9600`, ..."""
    return _parse(url)[0]


def printer_profile(url: str, *, paper_mm: Literal[58, 80]) -> PrinterProfile:
    """The profile of the printer at `url`, as its options say (`?cut=none&qr=image`)."""
    return PrinterProfile(paper_mm=paper_mm, **_parse(url)[1])


def _parse(url: str) -> tuple[PrinterAddress, dict[str, Any]]:
    try:
        parts = urlsplit(url)  # ValueError for "tcp://[fe80::1:9100"
        query = _options(parts.query, url)
        parser = _PARSERS.get(parts.scheme)
        if parser is None:
            raise PrinterConfigError(f"unknown printer URL scheme in {url!r}")
        profile = _profile_fields(query, url)
        address = parser(unquote(parts.netloc), unquote(parts.path), query)
    except ValueError as error:
        raise PrinterConfigError(f"bad printer URL {url!r}: {error}") from None
    if query:
        known = ", ".join(sorted([*_CONNECTION_OPTIONS.get(parts.scheme, ()), *_PROFILE_OPTIONS]))
        raise PrinterConfigError(
            f"unknown option(s) {', '.join(sorted(query))} in printer URL {url!r}"
            f" (a {parts.scheme} printer takes {known})"
        )
    return address, profile


def _options(query: str, url: str) -> dict[str, str]:
    """The URL's options by name; one given twice is refused, as which one counts is unclear."""
    options: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name in options:
            raise PrinterConfigError(f"printer URL {url!r}: {name} is given more than once")
        options[name] = value
    return options


def _profile_fields(query: dict[str, str], url: str) -> dict[str, Any]:
    """Take the profile options out of `query`, as PrinterProfile fields."""
    fields: dict[str, Any] = {}
    for name, option in _PROFILE_OPTIONS.items():
        if name not in query:
            continue
        value = query.pop(name)
        if value not in option.values:
            allowed = " or ".join(f"{name}={choice}" for choice in option.values)
            raise PrinterConfigError(f"printer URL {url!r}: {name}={value!r}, use {allowed}")
        fields[option.field] = option.values[value]
    return fields


def _tcp(netloc: str, path: str, query: dict[str, str]) -> TcpAddress:
    parts = urlsplit(f"//{netloc}")
    if not parts.hostname or path.strip("/"):
        raise ValueError("expected tcp://host[:port]")
    parts.hostname.encode("idna")  # UnicodeError, a ValueError, for "printer..local"
    return TcpAddress(parts.hostname, parts.port or 9100)


def _usb(netloc: str, path: str, query: dict[str, str]) -> UsbAddress:
    vendor, _, product = netloc.partition(":")
    if not product or path.strip("/"):
        raise ValueError("expected usb://0xVENDOR:0xPRODUCT")
    return UsbAddress(
        int(vendor, 16),
        int(product, 16),
        in_ep=int(query.pop("in_ep", "0x82"), 16),
        out_ep=int(query.pop("out_ep", "0x01"), 16),
    )


def _serial(netloc: str, path: str, query: dict[str, str]) -> SerialAddress:
    if netloc or not path:
        raise ValueError("expected serial:///dev/ttyXXX")
    baudrate = int(query.pop("baudrate", "9600"))
    if baudrate not in BAUDRATES:
        raise ValueError(f"baudrate must be one of {sorted(BAUDRATES)}")
    return SerialAddress(path, baudrate)


def _file(netloc: str, path: str, query: dict[str, str]) -> FileAddress:
    if netloc or not path:
        raise ValueError("expected file:///absolute/path")
    return FileAddress(path)


def _cups(netloc: str, path: str, query: dict[str, str]) -> CupsAddress:
    if not netloc or path.strip("/"):
        raise ValueError("expected cups://QueueName")
    return CupsAddress(netloc)


_CONNECTION_OPTIONS = {"usb": ("in_ep", "out_ep"), "serial": ("baudrate",)}
_PARSERS: dict[str, Callable[[str, str, dict[str, str]], PrinterAddress]] = {
    "tcp": _tcp,
    "usb": _usb,
    "serial": _serial,
    "file": _file,
    "cups": _cups,
}
