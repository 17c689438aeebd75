"""Apply the Piccolo migrations of every app, on SQLite or PostgreSQL; tell which are missing."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import io
import itertools
import sqlite3
import warnings
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import asyncpg
from piccolo.apps.migrations.commands.base import BaseMigrationManager
from piccolo.apps.migrations.commands.forwards import run_forwards
from piccolo.apps.migrations.tables import Migration
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

import pos.piccolo_conf as conf
from pos.db.binding import current_engine
from pos.errors import Unavailable
from pos.logs import logger

__all__ = ["is_missing_table", "migrate", "missing_migrations", "require_migrated"]

# Any fixed number will do, as long as nothing else takes the same advisory lock.
_MIGRATION_LOCK_KEY = 7_305_417_962_101
_LOCK_POLL_S = 0.2


async def migrate() -> str:
    """Bring the bound database up to date; returns what Piccolo reported.

    Runs one at a time per database: a second `pos migrate` waits, then finds nothing to do.
    """
    report = io.StringIO()
    async with _migrating_alone():
        with contextlib.redirect_stdout(report), warnings.catch_warnings():
            # SQLite neither enforces nor changes a VARCHAR's length: Piccolo skips such a change.
            warnings.filterwarnings("ignore", message=".*SQLITE doesn't support changes in length")
            response = await run_forwards(app_name="all", migration_id="all", fake=False)
    if not response.success:
        raise Unavailable(f"migrations failed: {response.message}\n{report.getvalue()}")
    return report.getvalue()


def _migrating_alone() -> contextlib.AbstractAsyncContextManager[object]:
    """The bound database's migration lock, held for the block; a second holder waits."""
    engine = current_engine()
    if isinstance(engine, PostgresEngine):
        return _advisory_lock(engine)
    if isinstance(engine, SQLiteEngine):
        return _file_lock(Path(f"{engine.path}.migrate-lock"))
    return contextlib.nullcontext()


@contextlib.asynccontextmanager
async def _advisory_lock(engine: PostgresEngine) -> AsyncIterator[None]:
    # A session lock, on a connection of its own: the migrations run on the pool's connections.
    connection = await engine.get_new_connection()
    try:
        if not await connection.fetchval("SELECT pg_try_advisory_lock($1)", _MIGRATION_LOCK_KEY):
            _say_waiting()
            await connection.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK_KEY)
        yield
    finally:
        await connection.close()  # which releases the lock


@contextlib.asynccontextmanager
async def _file_lock(path: Path) -> AsyncIterator[None]:
    async with await anyio.open_file(path, "a") as lock:
        await _flock(lock.wrapped.fileno())
        yield  # closing the file releases the lock


async def _flock(fd: int) -> None:
    # Polled: a thread blocked in flock() cannot be cancelled, and Ctrl-C would wait for it.
    for attempt in itertools.count():
        if _flocked(fd):
            return
        if attempt == 0:
            _say_waiting()
        await anyio.sleep(_LOCK_POLL_S)


def _flocked(fd: int) -> bool:
    """Whether the exclusive lock on `fd` was free, and is now ours."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _say_waiting() -> None:
    logger.info("migrate: waiting for another `pos migrate` to finish")


@functools.cache
def _shipped_migrations() -> frozenset[tuple[str, str]]:
    """(app, migration id) of every migration this version ships; read once, they never change."""
    finder = BaseMigrationManager()
    return frozenset(
        (app.app_name, migration_id)
        for app in conf.APP_REGISTRY.app_configs.values()
        for migration_id in finder.get_migration_modules(app.resolved_migrations_folder_path)
    )


async def missing_migrations() -> list[str]:
    """The migrations this version ships that the bound database lacks, as "app id"; one query."""
    try:
        rows = await Migration.select(Migration.app_name, Migration.name)
    except (asyncpg.PostgresError, sqlite3.Error) as exc:
        if not is_missing_table(exc):
            raise
        rows = []  # never migrated
    applied = {(row["app_name"], row["name"]) for row in rows}
    return sorted(f"{app} {name}" for app, name in _shipped_migrations() - applied)


async def require_migrated() -> None:
    """Refuse a database that lacks a migration of this version: the code needs its tables."""
    if missing := await missing_migrations():
        raise Unavailable(
            f"the database lacks {len(missing)} of {len(_shipped_migrations())} migrations:"
            " run `pos migrate` first",
            code="not_migrated",
        )


def is_missing_table(exc: Exception) -> bool:
    """Whether a PostgreSQL or SQLite error says a table does not exist."""
    return isinstance(exc, asyncpg.UndefinedTableError) or "no such table" in str(exc)
