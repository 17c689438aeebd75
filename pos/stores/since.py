"""The `since` cursor of a counter's catalog: the catalog revision and the store day (pure).

Whether a product shows as certified depends on the store's date as well as on the catalog: a
certificate that ends at midnight changes no revision. So the cursor a catalog answer carries
stands for both, and a `since` read made on another day also returns what that day changed.
It stays one integer, as devices already keep it: revision * 10**7 + the day's ordinal. A plain
revision from before the day was part of it reads as revision 0 of a day long past, so such a
device fetches everything once; a day part that is no date reads as that day long past too.
"""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

__all__ = ["Seen", "catalog_cursor", "read_cursor"]

_DAYS = 10**7  # above date.max.toordinal()


class Seen(NamedTuple):
    """What a device had: the catalog at `revision`, certified as of the store's `day`."""

    revision: int
    day: date


def catalog_cursor(revision: int, day: date) -> int:
    """The cursor for the catalog at `revision` as read on the store's `day`."""
    return revision * _DAYS + day.toordinal()


def read_cursor(since: int) -> Seen:
    """The revision and store day a cursor stands for."""
    revision, ordinal = divmod(since, _DAYS)
    if not date.min.toordinal() <= ordinal <= date.max.toordinal():
        return Seen(revision, date.min)
    return Seen(revision, date.fromordinal(ordinal))
