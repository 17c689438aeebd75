"""USB printers through python-escpos's Usb driver (needs pyusb and libusb)."""

from __future__ import annotations

import errno
import importlib
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from escpos.exceptions import DeviceNotFoundError
from escpos.printer import Usb

from printers.connectors.base import Deadline, DuplexConnector
from printers.errors import PrinterConfigError, PrinterError, PrinterUnreachable
from printers.profiles import UsbAddress

__all__ = ["UsbConnector"]

try:
    _usb_core: Any = importlib.import_module("usb.core")
except ImportError:
    _usb_core = None  # Usb.is_usable() is then False: nothing below reaches it


class UsbConnector(DuplexConnector):
    """Send to a USB printer by vendor and product id; status replies come from the IN endpoint."""

    def __init__(self, address: UsbAddress) -> None:
        self.address = address

    @contextmanager
    def open(self, deadline: Deadline) -> Iterator[_UsbChannel]:
        """Find and claim the device, raising PrinterUnreachable if it is not plugged in."""
        if not Usb.is_usable():
            raise PrinterConfigError("USB printers need pyusb and libusb: pip install pyusb")
        address = self.address
        name = f"usb {address.vendor_id:04x}:{address.product_id:04x}"
        printer = Usb(
            address.vendor_id, address.product_id, in_ep=address.in_ep, out_ep=address.out_ep
        )
        try:
            printer.open()
        except DeviceNotFoundError as error:
            if _denied(error.__context__):  # python-escpos wraps pyusb's USBError
                raise _access_denied(name, address, error) from error
            raise PrinterUnreachable(f"{name}: {error}") from error
        except _usb_core.NoBackendError as error:
            raise PrinterConfigError(
                f"{name}: pyusb found no libusb ({error}): apt-get install libusb-1.0-0"
            ) from error
        try:
            yield _UsbChannel(printer.device, address, name)
        finally:
            printer.close()


class _UsbChannel:
    def __init__(self, device: Any, address: UsbAddress, name: str) -> None:
        self._device = device
        self._address = address
        self._name = name

    def write(self, data: bytes, deadline: Deadline) -> None:
        try:
            self._device.write(self._address.out_ep, data, _ms(deadline))
        except Exception as error:  # pyusb's USBError/USBTimeoutError; pyusb is optional
            raise self._failure(error) from error

    def read(self, size: int, deadline: Deadline) -> bytes:
        received = b""
        while len(received) < size:
            try:
                chunk = bytes(
                    self._device.read(self._address.in_ep, size - len(received), _ms(deadline))
                )
            except Exception as error:  # pyusb's USBError/USBTimeoutError
                raise self._failure(error, "no status reply") from error
            received += chunk
        return received

    def _failure(self, error: Exception, what: str = "") -> PrinterError:
        if _denied(error):
            return _access_denied(self._name, self._address, error)
        return PrinterUnreachable(
            f"{self._name}: {what} ({error})" if what else f"{self._name}: {error}"
        )


def _denied(error: BaseException | None) -> bool:
    return getattr(error, "errno", None) in (errno.EACCES, errno.EPERM)


def _access_denied(name: str, address: UsbAddress, error: Exception) -> PrinterConfigError:
    """The service may not use the device: a setup to fix, which no retry mends."""
    vendor, product = f"{address.vendor_id:04x}", f"{address.product_id:04x}"
    return PrinterConfigError(
        f"{name}: {error}: write a udev rule giving the user the POS runs as access, e.g."
        f' SUBSYSTEM=="usb", ATTR{{idVendor}}=="{vendor}", ATTR{{idProduct}}=="{product}",'
        ' GROUP="lp", MODE="0660"'
    )


def _ms(deadline: Deadline) -> int:
    return max(1, math.ceil(deadline.remaining() * 1000))
