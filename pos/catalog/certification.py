"""Whether a certificate counts as certified on a day (pure)."""

from __future__ import annotations

from datetime import date

__all__ = ["CERTIFIED_STATUS", "is_certified"]

CERTIFIED_STATUS = "active"


def is_certified(*, status: str, valid_from: date, valid_until: date, on: date) -> bool:
    """Active, and `on` lies within valid_from..valid_until (both days included)."""
    return status == CERTIFIED_STATUS and valid_from <= on <= valid_until
