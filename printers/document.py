"""The receipt and refund slip documents: what the service fills in and the layout prints."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

__all__ = ["ReceiptDocument", "ReceiptLine", "RefundDocument", "ReturnedItem"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiptLine:
    """One sold item; certified when `certificate_no` is set."""

    name: str
    quantity: int | None
    weight_g: int | None
    unit: Literal["piece", "kg"]
    unit_price_fen: int
    amount_fen: int
    certificate_no: str | None
    origin_county: str | None
    markdown_note: str | None = None

    def __post_init__(self) -> None:
        if self.unit == "piece" and self.quantity is None:
            raise ValueError(f"{self.name}: a piece line needs a quantity")
        if self.unit == "kg" and self.weight_g is None:
            raise ValueError(f"{self.name}: a kg line needs weight_g")

    @property
    def certified(self) -> bool:
        """Whether this item carries a poverty-alleviation certificate."""
        return self.certificate_no is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiptDocument:
    """Everything printed on one receipt; money in integer fen."""

    store_name: str
    counter_name: str
    printed_at: datetime
    order_number: str
    lines: tuple[ReceiptLine, ...]
    total_fen: int
    discount_fen: int = 0
    payment_method: str
    payment_reference: str
    receipt_url: str
    supported_counties: tuple[str, ...]
    reprint: bool = False
    refunded_fen: int = 0  # refunded since the sale: a reprint says so

    def __post_init__(self) -> None:
        # The layout prints the wall clock as given; a naive time would hide a missing conversion.
        if self.printed_at.tzinfo is None:
            raise ValueError("printed_at must be timezone-aware (store local time)")


@dataclass(frozen=True, slots=True, kw_only=True)
class ReturnedItem:
    """Goods the customer brought back with a refund: pieces, or grams of a product sold by kg."""

    name: str
    units: int
    unit: Literal["piece", "kg"] = "piece"  # slips stored before this field read as pieces


@dataclass(frozen=True, slots=True, kw_only=True)
class RefundDocument:
    """Everything printed on one refund slip (退款凭证); money in integer fen."""

    store_name: str
    counter_name: str
    refunded_at: datetime
    order_number: str
    amount_fen: int
    refunded_fen: int
    total_fen: int
    payment_method: str
    returned: tuple[ReturnedItem, ...] = ()
    reprint: bool = False

    def __post_init__(self) -> None:
        if self.refunded_at.tzinfo is None:
            raise ValueError("refunded_at must be timezone-aware (store local time)")

    @property
    def kept_fen(self) -> int:
        """What the customer has still paid after every refund so far."""
        return self.total_fen - self.refunded_fen
