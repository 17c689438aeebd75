"""Apply the Piccolo migrations of every app, on SQLite or PostgreSQL."""

from __future__ import annotations

import contextlib
import io
import warnings

from piccolo.apps.migrations.commands.forwards import run_forwards

from pos.errors import Unavailable

__all__ = ["migrate"]


async def migrate() -> str:
    """Bring the bound database up to date; returns what Piccolo reported."""
    report = io.StringIO()
    with contextlib.redirect_stdout(report), warnings.catch_warnings():
        # SQLite neither enforces nor changes a VARCHAR's length: Piccolo skips such a change.
        warnings.filterwarnings("ignore", message=".*SQLITE doesn't support changes in length")
        response = await run_forwards(app_name="all", migration_id="all", fake=False)
    if not response.success:
        raise Unavailable(f"migrations failed: {response.message}\n{report.getvalue()}")
    return report.getvalue()
