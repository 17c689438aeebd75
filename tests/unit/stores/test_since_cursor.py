from __future__ import annotations

from datetime import date

from pos.stores.since import Seen, catalog_cursor, read_cursor


def test_a_cursor_gives_back_its_revision_and_day() -> None:
    for revision, day in [(0, date(2026, 12, 4)), (41, date(2026, 12, 5)), (10**9, date.max)]:
        assert read_cursor(catalog_cursor(revision, day)) == Seen(revision, day)


def test_cursors_grow_with_the_revision_and_then_the_day() -> None:
    day, next_day = date(2026, 12, 4), date(2026, 12, 5)
    assert catalog_cursor(7, day) < catalog_cursor(7, next_day) < catalog_cursor(8, day)


def test_a_plain_revision_reads_as_revision_zero_of_a_day_long_past() -> None:
    assert read_cursor(0) == Seen(0, date.min)
    assert read_cursor(41) == Seen(0, date.fromordinal(41))


def test_a_number_no_answer_carried_reads_as_a_day_long_past() -> None:
    assert read_cursor(3 * 10**7 + 9_999_999) == Seen(3, date.min)
