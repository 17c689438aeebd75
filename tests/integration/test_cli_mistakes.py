"""The `pos` command on an operator's predictable mistakes: a message and a non-zero exit.

Never a Python traceback: a wrong setting, a database not reachable, refusing us, not migrated
or a migration behind, a user without privileges, a file it cannot read, a port taken or a
receipt folder it cannot write, a directory that is not the demo's or a broken demo file, a limit
or a day out of range, a platform double's file it cannot keep. Passwords are never printed, an
account without a name may load files, and two `pos migrate` at once wait for each other (Ctrl-C
stops the one waiting).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import re
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest
from click.testing import CliRunner, Result

from pos.cli import main
from pos.db import opened_database
from pos.db.migrate import missing_migrations
from pos.testing import as_admin, create_database, drop_database, free_port, migrated
from tests.helpers.demo import DEMO

POS_SECONDS = 60  # a command that should stop at once but serves or loops fails, not hangs
STOP_SECONDS = 10
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


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A migrated SQLite database of the test's own."""
    database = tmp_path / "pos.sqlite3"
    shutil.copy(sqlite_template, database)
    return f"sqlite:///{database}"


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
@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://postgres:s3cret@{server}/pos", "postgresql://postgres:***@{server}/pos"),
        # libpq's and asyncpg's other way to give a password
        (
            "postgresql://postgres@{server}/pos?sslpassword=s3cret&password=s3cret",
            "postgresql://postgres@{server}/pos?sslpassword=***&password=***",
        ),
    ],
    ids=["before-the-host", "in-the-query"],
)
def test_an_unreachable_database_is_a_clear_error_that_hides_the_password(
    url: str, shown: str
) -> None:
    server = f"127.0.0.1:{free_port()}"
    env = {"POS_DATABASE_URL": url.format(server=server)}
    result = CliRunner().invoke(main, ["analytics", "rebuild"], env=env)
    _refused_cleanly(result)
    assert f"cannot use the database at {shown.format(server=server)}: " in result.output
    assert "s3cret" not in result.output


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
    assert f"Error: cannot use the database at {wrong}" in done.stderr
    assert what_to_check in done.stderr


@pytest.fixture
def unprivileged_role(postgres_database: str) -> Iterator[str]:
    """A role that may log in and nothing more, as `CREATE ROLE pos LOGIN` makes one."""
    role = f"pos_test_{uuid.uuid4().hex[:8]}"
    asyncio.run(as_admin(f'CREATE ROLE "{role}" LOGIN'))
    yield role
    asyncio.run(as_admin(f'DROP ROLE "{role}"'))


@pytest.mark.postgres
@pytest.mark.parametrize("command", [["migrate"], ["outbox", "status"]])
def test_a_postgres_user_without_privileges_is_told_what_to_grant(
    unprivileged_role: str, command: list[str]
) -> None:
    url = asyncio.run(create_database("pos_test"))  # owned by postgres
    try:
        # What PostgreSQL 15 does already; older servers let anyone create in schema public.
        asyncio.run(as_admin("REVOKE CREATE ON SCHEMA public FROM PUBLIC", url))
        if command != ["migrate"]:
            asyncio.run(migrated(url))  # the tables are there, and the role was granted none
        as_role = url.replace("//postgres@", f"//{unprivileged_role}:s3cret@")
        done = _pos(*command, env=_clean_env(POS_DATABASE_URL=as_role))
    finally:
        asyncio.run(drop_database(url))
    _refused_in_one_line(done)
    assert "permission denied" in done.stderr
    assert "GRANT this user" in done.stderr
    assert "s3cret" not in done.stderr


def test_serving_an_unreachable_database_stops_at_once_with_a_clear_error() -> None:
    unreachable = f"postgresql://postgres@127.0.0.1:{free_port()}/pos"
    done = _pos("serve", "--port", str(free_port()), env=_clean_env(POS_DATABASE_URL=unreachable))
    _refused_in_one_line(done)
    assert "cannot use the database" in done.stderr


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


@pytest.mark.parametrize(
    "command",
    [
        ["demo", "--dir", str(DEMO)],
        ["catalog", "import", str(DEMO / "catalog.jsonl")],
        ["outbox", "status"],
    ],
    ids=["demo", "catalog-import", "outbox-status"],
)
def test_every_command_on_a_database_a_migration_behind_says_to_migrate(
    sqlite_url: str, command: list[str]
) -> None:
    # As a database the previous version migrated: the latest migration not applied.
    with contextlib.closing(sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))) as db:
        db.execute("DELETE FROM migration WHERE id = (SELECT max(id) FROM migration)")
        db.commit()
    result = CliRunner().invoke(main, command, env={"POS_DATABASE_URL": sqlite_url})
    _refused_cleanly(result)
    assert "the database lacks 1 of" in result.output
    assert "run `pos migrate` first" in result.output


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


def _wait_for_line(stream: IO[str], text: str) -> None:
    deadline = time.monotonic() + POS_SECONDS
    while select.select([stream], [], [], max(0, deadline - time.monotonic()))[0]:
        if text in stream.readline():
            return
    pytest.fail(f"no line with {text!r}")


def test_a_migrate_waiting_for_another_says_so_once_and_stops_on_ctrl_c(sqlite_url: str) -> None:
    lock_file = Path(f"{sqlite_url.removeprefix('sqlite:///')}.migrate-lock")
    with lock_file.open("a") as held:  # another `pos migrate` is applying the migrations
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        waiting = subprocess.Popen(
            [sys.executable, "-m", "pos.cli", "migrate"],
            env=_clean_env(POS_DATABASE_URL=sqlite_url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert waiting.stdout is not None
            _wait_for_line(waiting.stdout, "waiting for another `pos migrate`")
            waiting.send_signal(signal.SIGINT)  # the operator gives up
            stdout, stderr = waiting.communicate(timeout=STOP_SECONDS)
        finally:
            waiting.kill()
            waiting.communicate()
    assert waiting.returncode != 0
    assert "Traceback" not in stderr, stderr
    assert "waiting for another" not in stdout  # said once, before


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


def test_the_virtual_printer_refuses_an_out_folder_it_cannot_make(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("a file, not a folder\n")
    out = tmp_path / "notes.txt" / "receipts"
    args = ["printer", "serve", "--port", str(free_port()), "--out", str(out)]
    done = _pos(*args, env=_clean_env())  # were it to start, the timeout would fail the test
    _refused_in_one_line(done)
    assert f"cannot save receipts in {out}" in done.stderr


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


@pytest.mark.parametrize("limit", ["-1", str(2**64)])
def test_listing_dead_events_refuses_a_limit_out_of_range(database_url: str, limit: str) -> None:
    env = {"POS_DATABASE_URL": database_url}
    result = CliRunner().invoke(main, ["outbox", "dead", "--limit", limit], env=env)
    _refused_cleanly(result)
    assert "--limit" in result.output


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_reconciling_a_day_at_either_end_of_the_calendar_is_refused(
    sqlite_url: str, day: str
) -> None:
    env = {"POS_DATABASE_URL": sqlite_url, "POS_PLATFORM_URL": f"http://127.0.0.1:{free_port()}"}
    result = CliRunner().invoke(main, ["platform", "reconcile", "--date", day], env=env)
    _refused_cleanly(result)
    assert f"cannot reconcile {day}: give a day from 0001-01-02 to 9999-12-29" in result.output


@pytest.mark.parametrize("command", [["catalog", "import"], ["stores", "load"]])
def test_an_input_file_that_cannot_be_read_is_named_not_blamed_on_the_database(
    sqlite_url: str, tmp_path: Path, command: list[str]
) -> None:
    # What an operator who is not root meets with another account's file (EACCES) meets root
    # too with a path that is not a regular file: here a socket (ENXIO on open).
    unreadable = tmp_path / "input"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(unreadable))
        result = CliRunner().invoke(
            main, [*command, str(unreadable)], env={"POS_DATABASE_URL": sqlite_url}
        )
    _refused_cleanly(result)
    assert f"cannot read {unreadable}: " in result.output
    assert "database" not in result.output


def test_an_account_without_a_name_may_import_the_catalog(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A container run with `--user 1000` (or Kubernetes' runAsUser): no /etc/passwd entry and no
    # USER or LOGNAME. Python's getpass.getuser() then raises (KeyError on 3.11, OSError later).
    def unknown_uid(uid: int) -> object:
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    for variable in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr("pwd.getpwuid", unknown_uid)
    command = ["catalog", "import", str(DEMO / "catalog.jsonl")]
    result = CliRunner().invoke(main, command, env={"POS_DATABASE_URL": sqlite_url})
    assert result.exit_code == 0, f"{result.exception!r}\n{result.output}"


def test_a_catalog_with_many_bad_lines_lists_the_first_50_and_counts_the_rest(
    sqlite_url: str, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("[]\n" * 53)
    result = CliRunner().invoke(
        main, ["catalog", "import", str(bad)], env={"POS_DATABASE_URL": sqlite_url}
    )
    _refused_cleanly(result)
    assert "  line 50: not a JSON object\n  ... and 3 more" in result.output
    assert "line 51" not in result.output


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
