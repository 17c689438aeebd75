"""Shared fixtures: real SQLite files, a real PostgreSQL database, real Redis, the app in-loop.

PostgreSQL and Redis tests skip when the server is unreachable, except under CI=true, where
they fail: CI must run them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from litestar import Litestar

from pos.app import create_app
from pos.db import opened_database
from pos.settings import Settings
from pos.testing import create_database, drop_database, migrated

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
IN_CI = os.environ.get("CI") == "true"


def _require_service(name: str, host: str, port: int) -> None:
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        if IN_CI:
            pytest.fail(f"{name} at {host}:{port} is unreachable, and CI must run its tests")
        pytest.skip(f"{name} at {host}:{port} is unreachable")


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file migrated once; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    asyncio.run(migrated(f"sqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database of this run's own, migrated once and dropped at the end."""
    _require_service("PostgreSQL", "127.0.0.1", 5432)
    url = asyncio.run(create_database("pos_test"))
    asyncio.run(migrated(url))
    yield url
    asyncio.run(drop_database(url))


async def _empty_postgres(url: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        tables = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            " AND tablename <> 'migration'"
        )
        names = ", ".join(f'"{row["tablename"]}"' for row in tables)
        await connection.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated database: a fresh SQLite file, or this run's PostgreSQL database."""
    if request.param == "sqlite":
        path = tmp_path / "pos.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_database")
    asyncio.run(_empty_postgres(url))
    return url


@pytest.fixture
def redis_url() -> str:
    _require_service("Redis", REDIS_HOST, REDIS_PORT)
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/0"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        redis_prefix=f"pos_test_{uuid.uuid4().hex[:8]}",
    )


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[str]:
    """The database bound and open for direct use by a test; yields its URL."""
    async with opened_database(database_url):
        yield database_url


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Litestar]:
    application = create_app(settings)
    async with application.lifespan():
        yield application


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """An in-loop HTTP client: tests may use the database directly alongside it."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://pos.test") as http:
        yield http


_SERVICE_MARKERS = ("postgres", "redis", "browser")
_REQUIRED_IN_CI = ("postgres", "redis")


def _passed_by_marker(config: pytest.Config) -> dict[str, int]:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    passed = reporter.stats.get("passed", []) if reporter else []
    return {
        marker: sum(1 for report in passed if marker in report.keywords)
        for marker in _SERVICE_MARKERS
    }


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI, a run of the whole suite in which no PostgreSQL or Redis test passed fails."""
    counts = _passed_by_marker(session.config)
    whole_suite = not session.config.option.markexpr and not session.config.option.keyword
    if IN_CI and whole_suite and any(counts[m] == 0 for m in _REQUIRED_IN_CI):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Show how many PostgreSQL, Redis and browser tests passed."""
    counts = _passed_by_marker(terminalreporter.config)
    terminalreporter.write_line(
        "service suites passed: " + ", ".join(f"{m} {n}" for m, n in counts.items())
    )
