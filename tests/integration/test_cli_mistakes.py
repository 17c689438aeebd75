"""The `pos` command on an operator's predictable mistakes: a message and a non-zero exit.

Never a Python traceback: a wrong setting, a database not reachable, refusing us or not
migrated, a port taken, a directory that is not the demo's or a broken demo file, a limit below 1,
a platform double's file it cannot keep. And two `pos migrate` at once do not trip each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pos.cli import main
from pos.db import opened_database
from pos.db.migrate import missing_migrations
from pos.testing import create_database, drop_database, free_port
from tests.helpers.demo import DEMO

POS_SECONDS = 60  # a command that should stop at once but serves or loops fails, not hangs
DEMO_TABLES = ("product", "store", "staff_user", "stock_level")


def _refused_cleanly(result: Result) -> None:
    """A ClickException (or usage error): SystemExit with a non-zero code, no stray exception."""
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Error" in result.output, result.output


def _clean_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("POS_")}
    return {**env, **extra}


def _pos(
    *args: str, env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real `pos` command to its end (or for POS_SECONDS, then fail the test)."""
    return subprocess.run(
        [sys.executable, "-m", "pos.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=POS_SECONDS,
        check=False,
    )


def _refused_in_one_line(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode != 0, done.stdout
    assert done.stderr.startswith("Error: "), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def never_migrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database without tables: a new SQLite file, or a new PostgreSQL database of its own."""
    if request.param == "sqlite":
        (tmp_path / "new.sqlite3").touch()
        yield f"sqlite:///{tmp_path / 'new.sqlite3'}"
        return
    request.getfixturevalue("postgres_database")  # skips (or fails in CI) without the server
    url = asyncio.run(create_database("pos_test"))
    try:
        yield url
    finally:
        asyncio.run(drop_database(url))


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("POS_DATABASE_URL", "mysql://pos@db/pos"),
        ("POS_PORT", "eighty"),
        ("POS_TIME_ZONE", "Mars/Olympus"),
    ],
)
def test_a_wrong_setting_stops_every_command_with_a_message_naming_it(
    tmp_path: Path, variable: str, value: str
) -> None:
    # README: "A wrong value stops the service at start-up with a message naming the variable."
    done = _pos("migrate", env=_clean_env(**{variable: value}), cwd=tmp_path)
    assert done.returncode != 0
    assert variable in done.stderr
    assert "Traceback" not in done.stderr, done.stderr


# Piccolo warns before it raises; under pytest's "error" filter the warning would hide the error.
@pytest.mark.filterwarnings("ignore:.*Unable to fetch server version")
def test_an_unreachable_database_is_a_clear_error_not_a_traceback() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {"POS_DATABASE_URL": f"postgresql://postgres:s3cret@127.0.0.1:{port}/pos"}
    result = CliRunner().invoke(main, ["analytics", "rebuild"], env=env)
    _refused_cleanly(result)
    shown = f"postgresql://postgres:***@127.0.0.1:{port}/pos"  # the password left out
    assert f"cannot reach the database at {shown}" in result.output


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("mistake", "what_to_check"),
    [
        ("user", "check the user and password in POS_DATABASE_URL"),
        ("database", "check the database name in POS_DATABASE_URL"),
    ],
)
def test_a_database_server_refusing_us_says_what_to_check(
    postgres_database: str, mistake: str, what_to_check: str
) -> None:
    server, name = postgres_database.rsplit("/", 1)
    wrong = {
        "user": f"{server.replace('//postgres@', '//pos_no_such_user@')}/{name}",
        "database": f"{server}/pos_no_such_database",
    }[mistake]
    done = _pos("outbox", "status", env=_clean_env(POS_DATABASE_URL=wrong))
    _refused_in_one_line(done)
    assert f"Error: cannot reach the database at {wrong}" in done.stderr
    assert what_to_check in done.stderr


def test_serving_an_unreachable_database_stops_at_once_with_a_clear_error() -> None:
    unreachable = f"postgresql://postgres@127.0.0.1:{free_port()}/pos"
    done = _pos("serve", "--port", str(free_port()), env=_clean_env(POS_DATABASE_URL=unreachable))
    _refused_in_one_line(done)
    assert "cannot reach the database" in done.stderr


@pytest.mark.parametrize("command", [["serve"], ["worker"], ["outbox", "status"]])
def test_a_mistyped_sqlite_path_is_named_and_no_file_is_made(
    tmp_path: Path, command: list[str]
) -> None:
    typo = tmp_path / "typo" / "pos.sqlite3"
    done = _pos(*command, env=_clean_env(POS_DATABASE_URL=f"sqlite:///{typo}"))
    _refused_in_one_line(done)
    assert f"Error: no database file at {typo}" in done.stderr
    assert not typo.parent.exists()


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_serving_or_working_on_a_database_never_migrated_says_to_migrate(
    never_migrated_url: str, command: str
) -> None:
    args = [command, "--port", str(free_port())] if command == "serve" else [command]
    done = _pos(*args, env=_clean_env(POS_DATABASE_URL=never_migrated_url))
    _refused_in_one_line(done)
    every_migration = r"Error: the database lacks (\d+) of \1 migrations: run `pos migrate` first"
    assert re.match(every_migration, done.stderr), done.stderr


async def _missing_migrations(url: str) -> list[str]:
    async with opened_database(url):
        return await missing_migrations()


def test_migrations_run_at_once_wait_for_each_other(never_migrated_url: str) -> None:
    env = _clean_env(POS_DATABASE_URL=never_migrated_url)
    racers = [
        subprocess.Popen(
            [sys.executable, "-m", "pos.cli", "migrate"], env=env, stderr=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    errors = [racer.communicate(timeout=POS_SECONDS)[1] for racer in racers]
    assert [racer.returncode for racer in racers] == [0, 0, 0], errors
    assert asyncio.run(_missing_migrations(never_migrated_url)) == []


def test_rebuilding_rollups_before_migrating_says_to_migrate(tmp_path: Path) -> None:
    (tmp_path / "new.sqlite3").touch()  # a database, without tables
    env = {"POS_DATABASE_URL": f"sqlite:///{tmp_path / 'new.sqlite3'}"}
    result = CliRunner().invoke(main, ["analytics", "rebuild"], env=env)
    _refused_cleanly(result)
    assert "run `pos migrate` first" in result.output


@pytest.mark.parametrize("busy", [True, False], ids=["port-in-use", "port-out-of-range"])
def test_the_virtual_printer_refuses_a_port_it_cannot_listen_on(tmp_path: Path, busy: bool) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1] if busy else 70000
        args = ["printer", "serve", "--port", str(port), "--out", str(tmp_path / "receipts")]
        result = CliRunner().invoke(main, args)
    _refused_cleanly(result)


def test_demo_from_a_directory_without_the_demo_files_is_a_clear_error(
    sqlite_template: Path, tmp_path: Path
) -> None:
    database = tmp_path / "pos.sqlite3"
    shutil.copy(sqlite_template, database)
    elsewhere = tmp_path / "not-the-demo"
    elsewhere.mkdir()
    env = {"POS_DATABASE_URL": f"sqlite:///{database}"}
    result = CliRunner().invoke(main, ["demo", "--dir", str(elsewhere)], env=env)
    _refused_cleanly(result)


def test_listing_dead_events_refuses_a_negative_limit(database_url: str) -> None:
    env = {"POS_DATABASE_URL": database_url}
    result = CliRunner().invoke(main, ["outbox", "dead", "--limit", "-1"], env=env)
    _refused_cleanly(result)


def _broken_stock(stock: str) -> str:
    return stock[: len(stock) // 2]


def _stock_of_an_unknown_product(stock: str) -> str:
    return stock.replace("FPC-513233-2026-0002", "FPC-999999-2026-0001")


def _staff_of_an_unknown_store(staff: str) -> str:
    return staff.replace('"XM-SM-LINXIA"', '"XM-NOWHERE"')


@pytest.mark.parametrize(
    ("file_name", "break_it", "complaint"),
    [
        ("stock.json", _broken_stock, "stock.json: the file: Invalid JSON"),
        ("stock.json", _stock_of_an_unknown_product, "unknown certificates: FPC-999999-2026-0001"),
        ("staff.json", _staff_of_an_unknown_store, "unknown store codes: XM-NOWHERE"),
    ],
    ids=["stock-not-json", "stock-unknown-product", "staff-unknown-store"],
)
def test_demo_with_a_broken_file_names_it_and_loads_nothing(
    sqlite_template: Path,
    tmp_path: Path,
    file_name: str,
    break_it: Callable[[str], str],
    complaint: str,
) -> None:
    database = tmp_path / "pos.sqlite3"
    shutil.copy(sqlite_template, database)
    demo = shutil.copytree(DEMO, tmp_path / "demo")
    broken = demo / file_name
    broken.write_text(break_it(broken.read_text(encoding="utf-8")), encoding="utf-8")
    env = {"POS_DATABASE_URL": f"sqlite:///{database}"}
    result = CliRunner().invoke(main, ["demo", "--dir", str(demo)], env=env)
    _refused_cleanly(result)
    assert f"{file_name}: " in result.output
    assert complaint in result.output
    with contextlib.closing(sqlite3.connect(database)) as db:
        loaded = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in DEMO_TABLES}
    assert loaded == dict.fromkeys(DEMO_TABLES, 0)


@pytest.mark.parametrize(
    "unusable", ["notes.txt/platform.sqlite3", "notes.txt"], ids=["under-a-file", "not-sqlite"]
)
def test_the_platform_double_refuses_a_file_it_cannot_keep(tmp_path: Path, unusable: str) -> None:
    (tmp_path / "notes.txt").write_text("not a database\n")
    path = tmp_path / unusable
    args = ["platform", "serve", "--port", str(free_port()), "--db", str(path)]
    result = CliRunner().invoke(main, args)
    _refused_cleanly(result)
    assert f"the platform double cannot keep {path}" in result.output
