"""Platform contracts: the events it reads, the documents it sends, the staff API.

`TransactionDoc`, the rating documents and the batch models are the wire format the relay and
the double share.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from pos.db import MAX_INTEGER, MAX_ROW_ID

__all__ = [
    "SENT_KINDS",
    "BacklogOut",
    "BatchIn",
    "BatchResult",
    "DailyTotals",
    "DailyTotalsQuery",
    "DeadLetterOut",
    "Difference",
    "Document",
    "RatingDoc",
    "RatingEvent",
    "RatingWithdrawalDoc",
    "ReconcileReport",
    "Rejection",
    "RequeuedOut",
    "Sale",
    "SentKind",
    "SoldLine",
    "TransactionDoc",
    "TransactionLine",
]

MAX_BATCH = 100
SentKind = Literal["sale", "reversal", "rating", "rating_withdrawal"]
"""The kinds of `Document`, the only rows the relay sends or staff may send again."""
SENT_KINDS: tuple[SentKind, ...] = get_args(SentKind)


class SoldLine(BaseModel):
    """A line of the `order_paid` payload: the product's facts as they were at the sale."""

    model_config = ConfigDict(extra="ignore")

    line_no: int
    product_id: int
    name_zh: str
    quantity: int | None
    weight_g: int | None
    total_fen: int
    certified: bool
    certificate_no: str
    origin_county_code: str
    supplier_id: int
    supplier_name: str


class Sale(BaseModel):
    """The `order_paid` payload: fields the certified transaction is built from."""

    model_config = ConfigDict(extra="ignore")

    order_id: int
    number: str
    store_id: int
    counter_id: int | None
    device_id: int | None
    paid_at: datetime
    business_day: date | None = Field(
        default=None,
        description="the store-local day frozen at the sale; None in events written before it was",
    )
    total_fen: int
    payment_reference: str
    buyer_region: str | None = Field(
        default=None, description="not in the payload: the store's region, looked up by the handler"
    )
    lines: list[SoldLine]


class TransactionLine(BaseModel):
    """One certified product on a transaction."""

    line_no: int
    certificate_no: str
    product_name: str
    supplier_code: str = Field(description="the supplier's unified social credit code")
    supplier_name: str
    origin_county_code: str
    quantity: int | None = Field(description="pieces")
    weight_g: int | None = Field(description="grams, for products sold by weight")
    amount_fen: int = Field(ge=0, le=MAX_INTEGER)


class TransactionDoc(BaseModel):
    """A certified transaction as the platform receives it: a sale, or a reversal of one."""

    transaction_id: str = Field(min_length=1, max_length=80)
    kind: Literal["sale", "reversal"]
    original_transaction_id: str | None = Field(description="the sale a reversal reverses")
    merchant_id: str = Field(min_length=1, max_length=40)
    store_code: str
    counter_code: str | None
    device_id: int | None
    order_number: str
    occurred_at: datetime = Field(description="when it was paid or refunded (UTC)")
    business_day: date = Field(description="the store-local day it counts for")
    payment_reference: str
    buyer_region: str | None = Field(
        description="province code the store's buyers count for (analytics); None: not set"
    )
    order_total_fen: int = Field(
        le=MAX_INTEGER, description="the whole order, uncertified lines included"
    )
    amount_fen: int = Field(ge=0, le=MAX_INTEGER, description="sum of the lines")
    lines: list[TransactionLine] = Field(min_length=1)


class RatingEvent(BaseModel):
    """The `rating_submitted` payload, and `rating_moderated`'s with the moderation's fields."""

    model_config = ConfigDict(extra="ignore")

    rating_id: int
    order_id: int
    store_id: int
    line_no: int
    certified: bool
    certificate_no: str
    stars: int
    comment: str
    submitted_at: datetime
    moderation_id: int | None = None
    hidden: bool = False
    moderated_at: datetime | None = None
    business_day: date | None = Field(
        default=None,
        description="the store-local day of the submission or moderation, frozen when written;"
        " None in events written before it was",
    )

    @property
    def occurred_at(self) -> datetime:
        """When the rating was moderated, or else submitted."""
        return self.moderated_at or self.submitted_at


class _RatingRef(BaseModel):
    """What every document about a rating carries: its own id and the sale line it rates."""

    transaction_id: str = Field(
        min_length=1, max_length=80, description="this document's stable id; deduped by it"
    )
    original_transaction_id: str = Field(description="the certified sale whose line is rated")
    merchant_id: str = Field(min_length=1, max_length=40)
    rating_id: int = Field(
        ge=1, le=MAX_ROW_ID, description="the rating's id here: all its documents share it"
    )
    revision: int = Field(
        ge=0,
        le=MAX_INTEGER,
        description="0 when submitted, then the moderation's number: the highest one holds",
    )
    occurred_at: datetime = Field(description="when it was submitted or moderated (UTC)")
    business_day: date = Field(description="the store-local day it happened")
    line_no: int
    certificate_no: str


class RatingDoc(_RatingRef):
    """A buyer's rating of a certified line, to be shown with the sale (again, after a hide)."""

    kind: Literal["rating"]
    stars: int = Field(ge=1, le=5)
    comment: str


class RatingWithdrawalDoc(_RatingRef):
    """A manager hid the rating: the platform stops showing it (until a later revision)."""

    kind: Literal["rating_withdrawal"]


Document = Annotated[TransactionDoc | RatingDoc | RatingWithdrawalDoc, Field(discriminator="kind")]


class BatchIn(BaseModel):
    """One signed request: up to 100 documents of one merchant, transactions and ratings."""

    transactions: list[Document] = Field(min_length=1, max_length=MAX_BATCH)


class Rejection(BaseModel):
    transaction_id: str
    reason: str


class BatchResult(BaseModel):
    """The platform's answer: new, already known (a harmless resend), or refused."""

    accepted: list[str]
    duplicates: list[str]
    rejected: list[Rejection]


class DailyTotalsQuery(BaseModel):
    merchant_id: str = Field(min_length=1, max_length=40)
    business_day: date


class DailyTotals(BaseModel):
    """Net fen (sales less reversals) of one merchant's day, overall and per key."""

    transactions: dict[str, int] = Field(description="transaction id -> fen, reversals negative")
    products: dict[str, int] = Field(description="certificate number -> fen")
    counties: dict[str, int] = Field(description="origin county code -> fen")
    suppliers: dict[str, int] = Field(description="supplier credit code -> fen")


class Difference(BaseModel):
    """One thing the local books and the platform disagree on."""

    merchant_id: str
    scope: Literal["transaction", "product", "county", "supplier", "order", "refund"]
    key: str = Field(
        description="transaction id, certificate number, county or supplier code; order: the id"
        " of a certified sale never recorded as a transaction; refund: the id of the reversal"
        " a refund never recorded should have"
    )
    local_fen: int | None = Field(
        description="None: unknown here; order: its certified fen; refund: the fen it reverses"
    )
    platform_fen: int | None = Field(description="None: missing at the platform")


class ReconcileReport(BaseModel):
    business_day: date
    merchants: list[str]
    local_transactions: int
    platform_transactions: int
    differences: list[Difference]
    resent: list[str] = Field(description="transaction ids sent again by --resend")


class BacklogOut(BaseModel):
    """Where forwarding stands."""

    pending: int
    oldest_pending_at: datetime | None
    sent: int
    dead: int


class DeadLetterOut(BaseModel):
    transaction_id: str
    kind: SentKind | Literal["sale_replayed"] = Field(
        description="sale_replayed: a second sale of its order, set aside; never sent or retried"
    )
    order_id: int
    store_id: int
    merchant_id: str
    amount_fen: int
    attempts: int
    last_error: str
    dead_at: datetime | None


class RequeuedOut(BaseModel):
    requeued: int
