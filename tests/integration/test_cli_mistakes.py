"""The `pos` command on an operator's predictable mistakes: a message and a non-zero exit.

Never a Python traceback: a wrong setting, a database not reachable or not migrated, a port
taken, a directory that is not the demo's, a limit below 1.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pos.cli import main


def _refused_cleanly(result: Result) -> None:
    """A ClickException (or usage error): SystemExit with a non-zero code, no stray exception."""
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Error" in result.output, result.output


def _clean_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("POS_")}
    return {**env, **extra}


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
    done = subprocess.run(
        [sys.executable, "-m", "pos.cli", "migrate"],
        cwd=tmp_path,
        env=_clean_env(**{variable: value}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
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


def test_rebuilding_rollups_before_migrating_says_to_migrate(tmp_path: Path) -> None:
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
