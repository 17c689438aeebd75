"""Catalog request and response models: the import report and products as others read them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from pos.catalog.certification import is_certified

__all__ = ["ImportReport", "ProductOut", "ProgressCallback", "no_progress"]

ProgressCallback = Callable[[str, int, int], None]
"""Called as progress(phase, done, total) while an import runs."""


def no_progress(phase: str, done: int, total: int) -> None:
    """The progress callback of an import nobody watches."""


class ImportReport(BaseModel):
    """What an import did: products inserted, changed or left as they were."""

    rows: int = Field(description="products in the file")
    inserted: int = Field(description="new certificates")
    updated: int = Field(description="products that changed, given the new revision")
    unchanged: int = Field(description="products already exactly as in the file")
    revision: int = Field(description="the catalog revision this import created")
    seconds: float = Field(description="how long the import took")


class ProductOut(BaseModel):
    """A certified product with its origin, supplier and certificate."""

    id: int
    certificate_no: str
    scheme: str
    status: Literal["active", "suspended", "revoked"]
    status_notice: str
    valid_from: date
    valid_until: date
    certifying_county_code: str
    origin_county_code: str
    origin_county_name: str
    province_name: str
    supplier_id: int
    supplier_credit_code: str
    supplier_name: str
    supplier_name_en: str
    gtin: str | None
    unit: Literal["piece", "kg"]
    price_fen: int = Field(description="per piece or per kg, in fen")
    name_zh: str
    name_en: str
    name_initials: str
    category: str
    quality_labels: list[str]
    poverty_help: str
    shelf_life_days: int | None
    origin_text: str
    traceability: str
    image_url: str
    revision: int
    updated_at: datetime

    @field_validator("quality_labels", mode="before")
    @classmethod
    def _split_labels(cls, value: object) -> object:
        if isinstance(value, str):
            return [label for label in value.split(",") if label]
        return value

    def certified_on(self, day: date) -> bool:
        """Whether the product counts as certified on `day`."""
        return is_certified(
            status=self.status, valid_from=self.valid_from, valid_until=self.valid_until, on=day
        )
