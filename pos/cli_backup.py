"""`pos backup DEST`: a consistent copy of the SQLite database, taken while the server runs.

The copy reads one snapshot: a read transaction is held from the first page to the last. In WAL
mode the server goes on writing meanwhile, and SQLite's backup, which otherwise starts over
whenever another connection writes between two of its steps, never restarts. The copy is written
beside DEST, checked, and renamed into place only when whole. PostgreSQL has its own tools: the
command names them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import click

from pos.cli_database import cli_settings
from pos.db import opened_database
from pos.db.engine import SQLITE_BUSY_TIMEOUT_S
from pos.db.migrate import missing_migrations

__all__ = ["backup"]

PAGES_PER_STEP = 1024  # 4 MiB of 4 KiB pages between progress lines
_PASSWORD_PARAMETERS = frozenset({"password", "sslpassword"})


@click.command("backup")
@click.argument("dest", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="replace DEST if it exists")
def backup(dest: Path, force: bool) -> None:
    """Copy the SQLite database to DEST while it serves, and check the copy (not PostgreSQL)."""
    settings = cli_settings()
    if not settings.is_sqlite:
        raise click.ClickException(_use_pg_dump(settings.database_url, dest))
    source = settings.sqlite_path
    if not source.is_file():
        raise click.ClickException(f"no database file at {source}: check POS_DATABASE_URL")
    if not dest.parent.is_dir():
        raise click.ClickException(f"no folder {dest.parent}: create it, or name another DEST")
    if dest.exists() and dest.samefile(source):
        raise click.ClickException(f"{dest} is the database itself: name another DEST")
    if dest.exists() and not force:
        raise click.ClickException(f"{dest} exists: give --force to replace it")
    try:
        with _partial_beside(dest) as partial:
            pages = _copy(source, partial)
            migrations = _checked(partial, source)
            partial.replace(dest)
    except (OSError, sqlite3.Error) as exc:
        raise click.ClickException(f"cannot back up {source} to {dest}: {exc}") from None
    click.echo(
        f"backed up {source} to {dest}: {dest.stat().st_size:,} bytes ({pages:,} pages),"
        f" integrity ok, {migrations}"
    )


@contextlib.contextmanager
def _partial_beside(dest: Path) -> Iterator[Path]:
    """A new file in DEST's folder (so that renaming it onto DEST is atomic), gone after the block
    unless it was renamed."""
    handle, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".partial")
    partial = Path(name)
    os.close(handle)  # only its name is wanted: SQLite writes it
    try:
        yield partial
    finally:
        partial.unlink(missing_ok=True)


def _copy(source: Path, copy: Path) -> int:
    """Copy `source` page by page into `copy`, reporting progress; how many pages."""
    uri = f"{source.absolute().as_uri()}?mode=rw"  # rw: never create a file that is not there
    reading = sqlite3.connect(uri, uri=True, timeout=SQLITE_BUSY_TIMEOUT_S, isolation_level=None)
    copied = 0

    def progress(status: int, remaining: int, total: int) -> None:
        nonlocal copied
        copied = total - remaining
        percent = 100 * copied // total if total else 100
        click.echo(
            f"\rcopying: {copied:,}/{total:,} pages ({percent}%)", nl=not remaining, err=True
        )

    try:
        reading.execute("BEGIN")
        reading.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot, taken
        with contextlib.closing(sqlite3.connect(copy)) as writing:
            reading.backup(writing, pages=PAGES_PER_STEP, progress=progress, sleep=0)
    finally:
        reading.close()
    return copied


def _checked(copy: Path, source: Path) -> str:
    """What the copy holds of this version's migrations, once it passes SQLite's integrity check.

    A copy lacking some migrations is kept (taken before an upgrade's `pos migrate`, say); one
    with none of them is not this server's database.
    """
    missing = asyncio.run(_missing_migrations(copy))
    with contextlib.closing(sqlite3.connect(copy)) as connection:
        problems = [row[0] for row in connection.execute("PRAGMA integrity_check(10)")]
        applied = _applied_migrations(connection)
        # One self-contained file, which opens read-only; the server sets WAL again on a restore.
        connection.execute("PRAGMA journal_mode=DELETE")
    if problems != ["ok"]:
        raise click.ClickException(
            f"the copy of {source} fails SQLite's integrity check: {'; '.join(problems)}"
        )
    if not applied:
        raise click.ClickException(
            f"{source} holds none of the migrations of `pos migrate`: check POS_DATABASE_URL"
        )
    if not missing:
        return f"all {applied} migrations of this version"
    return (
        f"{applied} migrations, {len(missing)} of this version's missing"
        " (an older version wrote it: `pos migrate` brings a restored copy up to date)"
    )


def _applied_migrations(connection: sqlite3.Connection) -> int:
    try:
        return int(connection.execute("SELECT count(*) FROM migration").fetchone()[0])
    except sqlite3.OperationalError as exc:
        if "no such table" not in str(exc):
            raise
        return 0


async def _missing_migrations(copy: Path) -> list[str]:
    """This version's migrations that `copy` lacks, as the server's start-up check finds them."""
    async with opened_database(f"sqlite:///{copy}"):
        return await missing_migrations()


def _use_pg_dump(url: str, dest: Path) -> str:
    """Why PostgreSQL is not copied here, and the `pg_dump` command that does it (no password)."""
    parts = urlsplit(url)
    address = parts.netloc.rpartition("@")[2]
    netloc = f"{parts.username}@{address}" if parts.username else address
    query = [(k, v) for k, v in parse_qsl(parts.query, True) if k not in _PASSWORD_PARAMETERS]
    public = urlunsplit(parts._replace(netloc=netloc, query=urlencode(query)))
    command = f"pg_dump -Fc --file {shlex.quote(str(dest))} {shlex.quote(public)}"
    return (
        "pos backup copies SQLite databases only; for PostgreSQL run\n"
        f"  {command}\n"
        "(it asks for the password, or reads PGPASSWORD or ~/.pgpass),"
        " or use your provider's backups"
    )
