"""How a `pos` command reaches the database: bound, open and migrated.

When it cannot, the command ends with what to fix: a mistyped path or password, missing
privileges, a server that is not running, a migration not applied.
"""

from __future__ import annotations

import re
import sqlite3
import warnings
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import click
import uvloop

from pos.db import opened_database
from pos.db.migrate import is_missing_table, require_migrated
from pos.errors import PosError
from pos.settings import Settings, SettingsError, load_settings

__all__ = ["cli_settings", "with_database"]

T = TypeVar("T")
_LISTED_BAD_LINES = 50  # a screenful; the API's answer lists more


def cli_settings() -> Settings:
    """The settings; the command ends with what is wrong in them, if anything is."""
    try:
        return load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def with_database(work: Callable[[], Awaitable[T]], *, creates: bool = False) -> T:
    """Run `work` with the configured database bound, open and migrated, on uvloop like the server.

    Only a command that `creates` the database may start on an SQLite file that is not there
    (opening one makes it, and a mistyped path would become a second, empty database), or on one
    that lacks a migration: the others need every table and column of this version.
    """
    settings = cli_settings()
    url = settings.database_url
    if settings.is_sqlite and not creates and not settings.sqlite_path.exists():
        raise click.ClickException(
            f"no database file at {settings.sqlite_path}: check POS_DATABASE_URL,"
            " or run `pos migrate` to create it"
        )

    async def run() -> T:
        try:
            async with opened_database(url):
                if not creates:
                    await require_migrated()
                return await work()
        except PosError as exc:
            raise click.ClickException(_describe(exc)) from None
        except (OSError, asyncpg.PostgresError, sqlite3.Error) as exc:
            if problem := _database_problem(exc, url):
                raise click.ClickException(problem) from None
            raise

    with warnings.catch_warnings():
        # Piccolo warns of a database it cannot reach, then raises: the error says it once.
        warnings.filterwarnings("ignore", message=".*Unable to (fetch server version|connect to)")
        return uvloop.run(run())


# What an operator should check next when PostgreSQL refuses us, by kind (first match wins).
_POSTGRES_CHECKS: tuple[tuple[type[Exception], str], ...] = (
    (
        asyncpg.InvalidAuthorizationSpecificationError,  # an unknown user or a wrong password
        "check the user and password in POS_DATABASE_URL, and that this user may connect",
    ),
    (
        asyncpg.InvalidCatalogNameError,
        "check the database name in POS_DATABASE_URL; create it if needed, then `pos migrate`",
    ),
    (
        asyncpg.InsufficientPrivilegeError,  # it may connect, but not create or read the tables
        "GRANT this user CREATE on schema public and ALL on its tables and sequences, or make it"
        " the database's owner and run `pos migrate` as it",
    ),
    (asyncpg.CannotConnectNowError, "the server is starting or stopping: try again shortly"),
    (
        asyncpg.TooManyConnectionsError,
        "the server has no connection to spare: stop idle clients or raise its max_connections",
    ),
    (OSError, "check the host and port in POS_DATABASE_URL, and that the server runs"),
)


def _database_problem(exc: Exception, url: str) -> str | None:
    """What an operator should know of a database error, when it is one they can fix."""
    if is_missing_table(exc):
        return "the database has no tables yet: run `pos migrate` first"
    if check := _what_to_check(exc, url):
        return f"cannot use the database at {_without_password(url)}: {exc}; {check}"
    return None


def _what_to_check(exc: Exception, url: str) -> str | None:
    if not url.startswith("sqlite"):
        return next((check for kind, check in _POSTGRES_CHECKS if isinstance(exc, kind)), None)
    if isinstance(exc, OSError) or "unable to open database" in str(exc):
        return "check the file's path in POS_DATABASE_URL, and that its folder can be written to"
    return None


def _without_password(url: str) -> str:
    """`url` with its password masked, given before the host or in the query (libpq's way)."""
    url = re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)
    return re.sub(r"([?&](?:ssl)?password=)[^&]*", r"\1***", url)


def _describe(exc: PosError) -> str:
    """The error, then the first of the bad lines it names, and how many more there are."""
    errors = exc.extra.get("errors", [])
    listed = errors[:_LISTED_BAD_LINES]
    lines = [str(exc), *(f"  line {error['line']}: {error['reason']}" for error in listed)]
    if left_out := exc.extra.get("error_count", len(errors)) - len(listed):
        lines.append(f"  ... and {left_out} more")
    return "\n".join(lines)
