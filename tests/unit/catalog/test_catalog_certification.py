"""Only an active certificate within its validity days counts as certified; revoked is final."""

from __future__ import annotations

from datetime import date

import pytest

from pos.catalog.certification import is_certified, undoes_revocation

FROM, UNTIL = date(2026, 1, 1), date(2027, 12, 31)


@pytest.mark.parametrize("day", [FROM, date(2026, 11, 28), UNTIL])
def test_active_certificate_counts_on_every_day_of_its_validity(day: date) -> None:
    assert is_certified(status="active", valid_from=FROM, valid_until=UNTIL, on=day)


@pytest.mark.parametrize("day", [date(2025, 12, 31), date(2028, 1, 1)])
def test_certificate_does_not_count_before_or_after_its_validity(day: date) -> None:
    assert not is_certified(status="active", valid_from=FROM, valid_until=UNTIL, on=day)


@pytest.mark.parametrize("status", ["suspended", "revoked"])
def test_suspended_or_revoked_certificate_does_not_count(status: str) -> None:
    assert not is_certified(status=status, valid_from=FROM, valid_until=UNTIL, on=date(2026, 6, 1))


@pytest.mark.parametrize(
    ("was", "becomes", "undoes"),
    [
        ("revoked", "active", True),
        ("revoked", "suspended", True),
        ("revoked", "revoked", False),
        ("suspended", "active", False),
        ("active", "revoked", False),
    ],
)
def test_only_a_revoked_certificate_cannot_change_status(
    was: str, becomes: str, undoes: bool
) -> None:
    assert undoes_revocation(was=was, becomes=becomes) is undoes
