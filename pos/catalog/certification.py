"""Whether a certificate counts as certified on a day, and how its status may change (pure)."""

from __future__ import annotations

from datetime import date

__all__ = ["CERTIFIED_STATUS", "REVOKED_STATUS", "is_certified", "undoes_revocation"]

CERTIFIED_STATUS = "active"
REVOKED_STATUS = "revoked"


def is_certified(*, status: str, valid_from: date, valid_until: date, on: date) -> bool:
    """Active, and `on` lies within valid_from..valid_until (both days included)."""
    return status == CERTIFIED_STATUS and valid_from <= on <= valid_until


def undoes_revocation(*, was: str, becomes: str) -> bool:
    """Whether the change would bring back a revoked certificate.

    A suspended certificate may become active again; a revoked one never does, as the
    certification authority's revocation is final. An older list loaded after a newer one
    must not undo it.
    """
    return was == REVOKED_STATUS and becomes != REVOKED_STATUS
