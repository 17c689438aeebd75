"""Draw a decoded receipt as the printer would, in dots, with Pillow (for the virtual printer)."""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import qrcode
import qrcode.constants
from PIL import Image, ImageDraw, ImageFont, ImageOps

from printers.decoder import (
    Cut,
    DecodedReceipt,
    Element,
    Feed,
    PrintedLine,
    QrCode,
    RasterImage,
)
from printers.text import display_width

__all__ = ["NOTO_CJK", "render_png"]

logger = logging.getLogger(__name__)

NOTO_CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
_CELL, _LINE = 12, 30  # font A: 12 x 24 dots, plus the default line spacing
_BASELINE = -4  # Noto's em box sits low; lift it so descenders stay inside the line
_MARGIN = 8
_EC = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def render_png(receipt: DecodedReceipt, dots: int = 576) -> Image.Image:
    """Render `receipt` on paper `dots` wide (576 for 80 mm, 384 for 58 mm)."""
    blocks = [_block(element, dots) for element in receipt.elements]
    height = sum(block.height for block, _ in blocks) + 2 * _MARGIN
    paper = Image.new("L", (dots + 2 * _MARGIN, height), 255)
    y = _MARGIN
    for block, align in blocks:
        x = {"left": 0, "center": (dots - block.width) // 2, "right": dots - block.width}[align]
        paper.paste(block, (_MARGIN + max(x, 0), y))
        y += block.height
    return paper


def _block(element: Element, dots: int) -> tuple[Image.Image, str]:
    if isinstance(element, PrintedLine):
        return _text_line(element), element.style.align
    if isinstance(element, QrCode):
        return _qr(element), element.align
    if isinstance(element, RasterImage):
        bits = Image.frombytes("1", (element.width, element.height), element.data)
        return ImageOps.invert(bits.convert("L")), element.align  # ESC/POS 1 is a black dot
    if isinstance(element, Cut):
        return _cut_mark(dots), "left"
    assert isinstance(element, Feed)
    return Image.new("L", (1, element.dots), 255), "left"


def _text_line(line: PrintedLine) -> Image.Image:
    # Each character sits in its own cell, as on the printer, so columns line up exactly.
    image = Image.new("L", (max(display_width(line.text), 1) * _CELL, _LINE), 255)
    draw, font, x = ImageDraw.Draw(image), _font(), 0
    for char in line.text:
        stroke = 1 if line.style.bold else 0
        draw.text((x, _BASELINE), char, font=font, fill=0, stroke_width=stroke, stroke_fill=0)
        x += display_width(char) * _CELL
    if line.style.underline:
        draw.line((0, _LINE - 3, x, _LINE - 3), fill=0, width=2)
    if line.style.invert:
        image = ImageOps.invert(image)
    width, height = line.style.width, line.style.height
    if (width, height) != (1, 1):
        image = image.resize((image.width * width, image.height * height), Image.Resampling.NEAREST)
    return image


def _qr(code: QrCode) -> Image.Image:
    maker = qrcode.QRCode(
        box_size=code.module_size, border=0, error_correction=_EC[code.error_correction]
    )
    maker.add_data(code.payload)
    maker.make(fit=True)
    symbol = maker.make_image().get_image().convert("L")
    padded = Image.new("L", (symbol.width, symbol.height + 2 * _CELL), 255)
    padded.paste(symbol, (0, _CELL))
    return padded


def _cut_mark(dots: int) -> Image.Image:
    image = Image.new("L", (dots, _LINE), 255)
    ImageDraw.Draw(image).line((0, _LINE // 2, dots, _LINE // 2), fill=160, width=1)
    return image


@lru_cache(maxsize=1)
def _font() -> Font:
    if not NOTO_CJK.exists():
        logger.warning(
            "%s not found (apt-get install fonts-noto-cjk): Chinese will not render", NOTO_CJK
        )
        return ImageFont.load_default(size=24)
    # The monospaced Simplified Chinese face matches the printer: 12 dots ASCII, 24 dots Hanzi.
    for index in range(10):
        font = ImageFont.truetype(str(NOTO_CJK), 24, index=index)
        if font.getname()[0] == "Noto Sans Mono CJK SC":
            return font
    return ImageFont.truetype(str(NOTO_CJK), 24)
