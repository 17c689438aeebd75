"""Checking in a thread while writing: parts arrive in order and errors come out unwrapped."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pos.catalog.pipeline import write_while_checking
from pos.errors import InvalidInput

pytestmark = pytest.mark.anyio


async def test_every_part_is_written_in_order() -> None:
    written: list[int] = []

    async def write(part: int) -> None:
        written.append(part)

    await write_while_checking(lambda: iter(range(50)), write)
    assert written == list(range(50))


async def test_an_error_after_the_last_part_is_raised_as_it_is() -> None:
    written: list[int] = []

    def parts() -> Iterator[int]:
        yield 1
        yield 2
        raise InvalidInput("bad rows", code="catalog_rejected")

    async def write(part: int) -> None:
        written.append(part)

    with pytest.raises(InvalidInput):
        await write_while_checking(parts, write)
    assert written == [1, 2]


async def test_a_writer_error_is_raised_and_stops_the_checking() -> None:
    checked: list[int] = []

    def parts() -> Iterator[int]:
        for part in range(1000):
            checked.append(part)
            yield part

    async def write(part: int) -> None:
        if part == 3:
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        await write_while_checking(parts, write)
    assert len(checked) < 10
