"""Throwaway services for tests and benchmarks: free ports, `pos` processes, scratch databases.

The product never imports this module; tests/ and bench/ do, so that a server process is started,
waited for and stopped, and a PostgreSQL database made and dropped, one way everywhere.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx

from pos.db import opened_database
from pos.db.migrate import migrate

__all__ = [
    "ADMIN_DSN",
    "ServiceDidNotStart",
    "as_admin",
    "create_database",
    "drop_database",
    "free_port",
    "migrated",
    "scratch_database",
    "start_pos",
    "stop",
    "wait_until_healthy",
]

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
STARTUP_SECONDS = 30.0
STOP_SECONDS = 15.0


class ServiceDidNotStart(RuntimeError):
    """A process exited or never answered its health check; the message holds its output."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_pos(args: Sequence[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start `pos <args>` in the background with exactly `env`; its output goes to `log`."""
    with log.open("ab") as sink:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and command
            [sys.executable, "-m", "pos.cli", *args],
            env=dict(env),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


def wait_until_healthy(
    url: str, process: subprocess.Popen[bytes], log: Path, seconds: float = STARTUP_SECONDS
) -> None:
    """Return once GET `url`/health answers 200; ServiceDidNotStart with the log otherwise."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceDidNotStart(f"exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise ServiceDidNotStart(
        f"{url}/health did not answer within {seconds:.0f} s:\n{log.read_text()}"
    )


def stop(processes: Sequence[subprocess.Popen[bytes]], seconds: float = STOP_SECONDS) -> None:
    """SIGINT each process, then kill what has not exited after `seconds`."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    for process in processes:
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def create_database(prefix: str, admin_dsn: str = ADMIN_DSN) -> str:
    """A new, empty PostgreSQL database `<prefix>_<random>`; its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    await as_admin(f'CREATE DATABASE "{name}"', admin_dsn)
    return f"{admin_dsn.rsplit('/', 1)[0]}/{name}"


async def drop_database(database_url: str, admin_dsn: str = ADMIN_DSN) -> None:
    """Drop the database at `database_url`, whoever is still connected to it."""
    name = database_url.rsplit("/", 1)[1]
    await as_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', admin_dsn)


@asynccontextmanager
async def scratch_database(prefix: str, admin_dsn: str = ADMIN_DSN) -> AsyncIterator[str]:
    """`create_database` for the block's length."""
    url = await create_database(prefix, admin_dsn)
    try:
        yield url
    finally:
        await drop_database(url, admin_dsn)


async def as_admin(statement: str, admin_dsn: str = ADMIN_DSN) -> None:
    """Run one statement on its own connection as `admin_dsn`'s user (roles, databases)."""
    connection = await asyncpg.connect(admin_dsn)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def migrated(database_url: str) -> None:
    """Bring the database at `database_url` up to date (the engine is closed afterwards)."""
    async with opened_database(database_url):
        await migrate()
