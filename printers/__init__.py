"""Receipt printing: document -> layout -> ESC/POS bytes -> connector; plus a virtual printer.

A library with no database that never imports `pos`. Sending blocks: call it from a thread.
"""

from __future__ import annotations

from printers.connectors import Connector, connector_for, query_status, send
from printers.decoder import DecodedReceipt, decode
from printers.document import ReceiptDocument, ReceiptLine, RefundDocument, ReturnedItem
from printers.errors import (
    PrinterConfigError,
    PrinterError,
    PrinterNotReady,
    PrinterUnreachable,
    SendInterrupted,
    StatusUnsupported,
)
from printers.layout import render_receipt
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
from printers.render import render_png
from printers.samples import sample_receipt, sample_refund
from printers.status import PrinterStatus
from printers.text import display_width, format_fen, format_kg
from printers.virtual import PrintedReceipt, VirtualPrinter, serve

__all__ = [
    "Connector",
    "CupsAddress",
    "DecodedReceipt",
    "FileAddress",
    "PrintedReceipt",
    "PrinterAddress",
    "PrinterConfigError",
    "PrinterError",
    "PrinterNotReady",
    "PrinterProfile",
    "PrinterStatus",
    "PrinterUnreachable",
    "ReceiptDocument",
    "ReceiptLine",
    "RefundDocument",
    "ReturnedItem",
    "SendInterrupted",
    "SerialAddress",
    "StatusUnsupported",
    "TcpAddress",
    "UsbAddress",
    "VirtualPrinter",
    "connector_for",
    "decode",
    "display_width",
    "format_fen",
    "format_kg",
    "parse_printer_url",
    "printer_profile",
    "query_status",
    "render_png",
    "render_receipt",
    "sample_receipt",
    "sample_refund",
    "send",
    "serve",
]
