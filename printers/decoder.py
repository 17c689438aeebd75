"""ESC/POS decoder: bytes to printed lines, QR codes, images and cuts (the virtual printer's eyes).

Covers the commands our layout and python-escpos send, and skips other common commands by their
length (Epson ESC/POS reference), so one unknown command does not garble the rest of the stream.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Literal

__all__ = [
    "Cut",
    "DecodedReceipt",
    "Decoder",
    "Element",
    "Event",
    "Feed",
    "PrintedLine",
    "QrCode",
    "RasterImage",
    "StatusRequest",
    "TextStyle",
    "decode",
]

LF, HT, DLE, ESC, FS, GS = 0x0A, 0x09, 0x10, 0x1B, 0x1C, 0x1D
EOT = 0x04
_CONTROL = re.compile(rb"[\x00-\x1f]")
_ALIGNS: dict[int, Literal["left", "center", "right"]] = {
    0: "left",
    48: "left",
    1: "center",
    49: "center",
    2: "right",
    50: "right",
}
# Parameter bytes after ESC x / FS x for fixed-length commands; unknown ones are taken as none.
_ESC_ARGS = dict.fromkeys(b" !%-3=?EGJMRTUVadert{", 1) | dict.fromkeys(b"$\\c", 2) | {ord("p"): 3}
_FS_ARGS = {ord("!"): 1, ord("-"): 1, ord("C"): 1, ord("W"): 1, ord("S"): 2, ord("p"): 2}
_GS_ARGS = dict.fromkeys(b"!BHITabfhrw|", 1) | dict.fromkeys(b"$LPW\\", 2)
_PARTIAL_CUTS = frozenset({1, 49, 66, 98, 104})
_QR_EC = {48: "L", 49: "M", 50: "Q", 51: "H"}
_FEED_DOTS = 30  # default line spacing, 1/6 inch


@dataclass(frozen=True, slots=True)
class TextStyle:
    """Character style in effect when a line started (ESC a only counts at a line's start)."""

    align: Literal["left", "center", "right"] = "left"
    bold: bool = False
    width: int = 1
    height: int = 1
    underline: bool = False
    invert: bool = False

    def tags(self) -> list[str]:
        """Short names of everything that differs from plain left-aligned text."""
        tags: list[str] = [] if self.align == "left" else [self.align]
        tags += [
            name
            for name, on in (
                ("bold", self.bold),
                ("underline", self.underline),
                ("invert", self.invert),
            )
            if on
        ]
        if (self.width, self.height) != (1, 1):
            sizes = {(2, 2): "2x", (2, 1): "2w", (1, 2): "2h"}
            tags.append(sizes.get((self.width, self.height), f"{self.width}x{self.height}"))
        return tags


@dataclass(frozen=True, slots=True)
class PrintedLine:
    """One printed line of text (decoded as GB18030)."""

    text: str
    style: TextStyle = TextStyle()


@dataclass(frozen=True, slots=True)
class QrCode:
    """A native QR code (`GS ( k`, function 181)."""

    payload: str
    module_size: int = 3
    error_correction: str = "L"
    align: Literal["left", "center", "right"] = "left"


@dataclass(frozen=True, slots=True)
class RasterImage:
    """A `GS v 0` raster bit image; bit 1 is a black dot."""

    width: int
    height: int
    data: bytes = field(repr=False)
    align: Literal["left", "center", "right"] = "left"


@dataclass(frozen=True, slots=True)
class Feed:
    """Paper fed without printing (ESC d, ESC J)."""

    dots: int


@dataclass(frozen=True, slots=True)
class Cut:
    """A paper cut (`GS V`); `raw` holds the bytes of the page it ends."""

    partial: bool = False
    raw: bytes = field(default=b"", repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class StatusRequest:
    """A real-time status request `DLE EOT n`, to be answered at once."""

    n: int


Element = PrintedLine | QrCode | RasterImage | Feed | Cut
Event = Element | StatusRequest


@dataclass(frozen=True, slots=True)
class DecodedReceipt:
    """What a stream of ESC/POS printed, in order."""

    elements: tuple[Element, ...]

    @property
    def text_lines(self) -> tuple[str, ...]:
        """The printed text, one string per line."""
        return tuple(e.text for e in self.elements if isinstance(e, PrintedLine))

    @property
    def qr_payloads(self) -> tuple[str, ...]:
        """The payload of every QR code, in order."""
        return tuple(e.payload for e in self.elements if isinstance(e, QrCode))

    @property
    def cuts(self) -> int:
        """How many times the paper was cut."""
        return sum(isinstance(e, Cut) for e in self.elements)

    def to_text(self) -> str:
        """Readable text: style tags like `[center bold 2x]`, `[QR] payload` and `[CUT]` (or
        `[PARTIAL CUT]`) lines."""
        return "".join(f"{line}\n" for e in self.elements if (line := _text_of(e)) is not None)


def _text_of(element: Element) -> str | None:
    if isinstance(element, PrintedLine):
        tags = element.style.tags()
        return f"[{' '.join(tags)}] {element.text}" if tags else element.text
    if isinstance(element, QrCode):
        return f"[QR] {element.payload}"
    if isinstance(element, RasterImage):
        return f"[IMAGE {element.width}x{element.height}]"
    if isinstance(element, Cut):
        return "[PARTIAL CUT]" if element.partial else "[CUT]"
    return None


def decode(data: bytes) -> DecodedReceipt:
    """Decode a whole ESC/POS stream (status requests are left out)."""
    decoder = Decoder()
    events = decoder.feed(data) + decoder.flush()
    return DecodedReceipt(tuple(e for e in events if not isinstance(e, StatusRequest)))


class Decoder:
    """Incremental decoder: feed it bytes as they arrive; a command split across reads waits."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._page = bytearray()
        self._line = bytearray()
        self._line_style = TextStyle()
        self._style = TextStyle()
        self._qr_data = b""
        self._qr_size, self._qr_ec = 3, "L"
        self._handlers = {ESC: self._esc, GS: self._gs, FS: self._fs, DLE: self._dle}

    @property
    def pending_raw(self) -> bytes:
        """Bytes received since the last cut (without status requests)."""
        return bytes(self._page)

    def feed(self, data: bytes) -> list[Event]:
        """Consume `data` and return what it printed, cut or asked."""
        self._buffer += data
        buffer, position = bytes(self._buffer), 0
        events: list[Event] = []
        while position < len(buffer):
            count = len(events)
            end = self._step(buffer, position, events)
            if end is None:
                break
            if buffer[position] != DLE:  # real-time commands are answered, not printed
                self._page += buffer[position:end]
            if len(events) > count and isinstance(events[-1], Cut):
                events[-1] = replace(events[-1], raw=bytes(self._page))
                self._page.clear()
            position = end
        del self._buffer[:position]
        return events

    def flush(self) -> list[Event]:
        """End of stream: text still waiting for a line feed counts as a printed line."""
        events: list[Event] = []
        self._end_line(events, only_if_text=True)
        return events

    def _step(self, buf: bytes, i: int, events: list[Event]) -> int | None:
        byte = buf[i]
        if byte >= 0x20:
            match = _CONTROL.search(buf, i)
            end = match.start() if match else len(buf)
            self._text(buf[i:end])
            return end
        if byte == LF:
            self._end_line(events)
            return i + 1
        if byte == HT:
            self._text(b" ")
            return i + 1
        if byte in (ESC, GS, FS, DLE):
            if i + 1 >= len(buf):
                return None
            return self._handlers[byte](buf, i, events)
        return i + 1  # CR, NUL and other single control bytes print nothing

    def _text(self, chunk: bytes) -> None:
        if not self._line:
            self._line_style = self._style
        self._line += chunk

    def _end_line(self, events: list[Event], only_if_text: bool = False) -> None:
        if only_if_text and not self._line:
            return
        style = self._line_style if self._line else self._style
        events.append(PrintedLine(self._line.decode("gb18030", errors="replace"), style))
        self._line.clear()

    def _esc(self, buf: bytes, i: int, events: list[Event]) -> int | None:
        command = buf[i + 1]
        if command == ord("*"):  # ESC * m nL nH: column bit image, skipped
            if i + 5 > len(buf):
                return None
            columns = buf[i + 3] | buf[i + 4] << 8
            return _within(buf, i + 5 + columns * (1 if buf[i + 2] in (0, 1) else 3))
        if command == ord("D"):  # ESC D n1 ... NUL: tab stops
            end = buf.find(b"\x00", i + 2)
            return None if end < 0 else end + 1
        end = i + 2 + _ESC_ARGS.get(command, 0)
        if end > len(buf):
            return None
        self._apply_esc(command, buf[i + 2 : end], events)
        return end

    def _apply_esc(self, command: int, args: bytes, events: list[Event]) -> None:
        style = self._style
        if command == ord("@"):  # ESC @: initialize, clears the print buffer too
            self._style, self._line = TextStyle(), bytearray()
        elif command == ord("!"):  # ESC !: print mode bits
            mode = args[0]
            self._style = replace(
                style,
                bold=bool(mode & 0x08),
                height=2 if mode & 0x10 else 1,
                width=2 if mode & 0x20 else 1,
                underline=bool(mode & 0x80),
            )
        elif command == ord("E"):
            self._style = replace(style, bold=bool(args[0] & 1))
        elif command == ord("-"):
            self._style = replace(style, underline=args[0] in (1, 2, 49, 50))
        elif command == ord("a"):
            self._style = replace(style, align=_ALIGNS.get(args[0], style.align))
        elif command in (ord("d"), ord("J")):  # print and feed n lines / n dots
            self._end_line(events, only_if_text=True)
            events.append(Feed(args[0] * (_FEED_DOTS if command == ord("d") else 1)))

    def _gs(self, buf: bytes, i: int, events: list[Event]) -> int | None:
        command = buf[i + 1]
        if command == ord("("):
            return self._gs_function(buf, i, events)
        if command == ord("V"):
            return self._cut(buf, i, events)
        if command == ord("v"):
            return self._raster(buf, i, events)
        if command == ord("8"):  # GS 8 L p1..p4: large graphics data, skipped
            if i + 7 > len(buf):
                return None
            return _within(buf, i + 7 + int.from_bytes(buf[i + 3 : i + 7], "little"))
        if command == ord("k"):
            return _barcode_end(buf, i)
        end = i + 2 + _GS_ARGS.get(command, 0)
        if end > len(buf):
            return None
        if command == ord("!"):  # GS !: character size, width in the high nibble
            size = buf[i + 2]
            self._style = replace(self._style, width=(size >> 4) + 1, height=(size & 0x0F) + 1)
        elif command == ord("B"):
            self._style = replace(self._style, invert=bool(buf[i + 2] & 1))
        return end

    def _gs_function(self, buf: bytes, i: int, events: list[Event]) -> int | None:
        # GS ( X pL pH data: every GS ( function carries its own length.
        if i + 5 > len(buf):
            return None
        end = i + 5 + (buf[i + 3] | buf[i + 4] << 8)
        if end > len(buf):
            return None
        if buf[i + 2] == ord("k") and end - i >= 7 and buf[i + 5] == ord("1"):
            self._qr(buf[i + 6], buf[i + 7 : end], events)
        return end

    def _qr(self, function: int, args: bytes, events: list[Event]) -> None:
        if function == ord("C") and args:  # module size
            self._qr_size = args[0]
        elif function == ord("E") and args:  # error correction
            self._qr_ec = _QR_EC.get(args[0], "L")
        elif function == ord("P"):  # store data, after m = '0'
            self._qr_data = args[1:]
        elif function == ord("Q"):  # print the stored symbol
            payload = self._qr_data.decode("utf-8", errors="replace")
            events.append(QrCode(payload, self._qr_size, self._qr_ec, self._style.align))

    def _cut(self, buf: bytes, i: int, events: list[Event]) -> int | None:
        if i + 3 > len(buf):
            return None
        mode = buf[i + 2]
        end = i + (3 if mode in (0, 1, 48, 49) else 4)  # GS V m, or GS V m n (feed, then cut)
        if end > len(buf):
            return None
        self._end_line(events, only_if_text=True)
        events.append(Cut(partial=mode in _PARTIAL_CUTS))
        return end

    def _raster(self, buf: bytes, i: int, events: list[Event]) -> int | None:
        # GS v 0 m xL xH yL yH d1...dk: width in bytes, height in dots.
        if i + 8 > len(buf):
            return None
        width_bytes, height = buf[i + 4] | buf[i + 5] << 8, buf[i + 6] | buf[i + 7] << 8
        end = i + 8 + width_bytes * height
        if end > len(buf):
            return None
        events.append(RasterImage(width_bytes * 8, height, buf[i + 8 : end], self._style.align))
        return end

    def _fs(self, buf: bytes, i: int, events: list[Event]) -> int | None:
        # FS & / FS . (Chinese mode on/off) change nothing here: text is always read as GB18030.
        return _within(buf, i + 2 + _FS_ARGS.get(buf[i + 1], 0))

    def _dle(self, buf: bytes, i: int, events: list[Event]) -> int | None:
        command = buf[i + 1]
        if command == 0x14:  # DLE DC4 fn a b: real-time requests (pulse, power-off, ...)
            return _within(buf, i + 5)
        if command not in (EOT, 0x05):  # DLE EOT n, DLE ENQ n
            return i + 1
        if i + 3 > len(buf):
            return None
        if command == EOT:
            events.append(StatusRequest(buf[i + 2]))
        return i + 3


def _within(buf: bytes, end: int) -> int | None:
    return end if end <= len(buf) else None


def _barcode_end(buf: bytes, i: int) -> int | None:
    # GS k m: m 0-6 is NUL-terminated data, m 65-79 is GS k m n d1...dn.
    if i + 3 > len(buf):
        return None
    if buf[i + 2] <= 6:
        end = buf.find(b"\x00", i + 3)
        return None if end < 0 else end + 1
    return None if i + 4 > len(buf) else _within(buf, i + 4 + buf[i + 3])
