"""What the administration commands print: aligned tables, and errors with the next step."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import TypeVar

import click

from pos.errors import PosError
from printers import display_width

__all__ = ["echo_table", "hinted"]

T = TypeVar("T")


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print `rows` under `headers`, each column as wide as its widest cell."""
    widths = [max(map(display_width, column)) for column in zip(headers, *rows, strict=True)]
    for row in (headers, *rows):
        cells = [
            cell + " " * (width - display_width(cell))
            for cell, width in zip(row, widths, strict=True)
        ]
        click.echo("  ".join(cells).rstrip())


async def hinted(work: Awaitable[T], code: str, hint: str) -> T:
    """What `work` answers; its PosError `code` ends the command with `hint`: what to do next."""
    try:
        return await work
    except PosError as exc:
        if exc.code != code:
            raise
        raise click.ClickException(f"{exc}; {hint}") from None
