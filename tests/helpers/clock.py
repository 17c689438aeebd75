"""Clocks for tests: one for code that takes one (`Payments.clock`, `PrintSender`), and a
`datetime` a day ahead for code that reads `datetime.now` (monkeypatch the module's `datetime`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo


class Clock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


class Tomorrow(datetime):
    """`datetime` whose `now` is a day ahead: the store's midnight has passed."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> Tomorrow:  # type: ignore[override]
        moment = datetime.now(tz) + timedelta(days=1)
        return cls.fromtimestamp(moment.timestamp(), tz)
