"""Connectors: deliver ESC/POS bytes to a printer named by its URL, and read its status."""

from __future__ import annotations

from printers.connectors.base import Connector, DuplexConnector
from printers.connectors.cupsqueue import CupsConnector
from printers.connectors.devicefile import FileConnector
from printers.connectors.network import NetworkConnector
from printers.connectors.serialport import SerialConnector
from printers.connectors.usbdevice import UsbConnector
from printers.profiles import (
    CupsAddress,
    FileAddress,
    PrinterAddress,
    SerialAddress,
    TcpAddress,
    UsbAddress,
    parse_printer_url,
)
from printers.status import PrinterStatus

__all__ = [
    "Connector",
    "CupsConnector",
    "DuplexConnector",
    "FileConnector",
    "NetworkConnector",
    "SerialConnector",
    "UsbConnector",
    "connector_for",
    "query_status",
    "send",
]


def connector_for(printer: PrinterAddress | str) -> Connector:
    """The connector for a printer URL or parsed address."""
    address = parse_printer_url(printer) if isinstance(printer, str) else printer
    match address:
        case TcpAddress():
            return NetworkConnector(address)
        case UsbAddress():
            return UsbConnector(address)
        case SerialAddress():
            return SerialConnector(address)
        case FileAddress():
            return FileConnector(address)
        case CupsAddress():
            return CupsConnector(address)


def send(
    printer: PrinterAddress | str, data: bytes, *, timeout: float = 10.0, check_status: bool = True
) -> None:
    """Deliver `data`; raises PrinterNotReady, PrinterUnreachable or PrinterConfigError."""
    connector_for(printer).send(data, timeout=timeout, check_status=check_status)


def query_status(printer: PrinterAddress | str, *, timeout: float = 2.0) -> PrinterStatus:
    """Read the status; a printer that does not answer in time is reported offline."""
    return connector_for(printer).query_status(timeout=timeout)
