"""`pos backup DEST`: a consistent copy of the SQLite database while it is written to.

On PostgreSQL it refuses, with the `pg_dump` command to use instead (no password in it).
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pos.cli import main

PREFILLED_ROWS = 20_000  # about 10 MB: the copy takes several steps


def _backup(url: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["backup", *args], env={"POS_DATABASE_URL": url})


def _refused(result: Result, message: str) -> None:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert f"Error: {message}" in result.output, result.output


@pytest.fixture
def database(sqlite_template: Path, tmp_path: Path) -> Path:
    """A migrated SQLite file in WAL mode, with a table of rows of our own."""
    path = tmp_path / "pos.sqlite3"
    shutil.copy(sqlite_template, path)
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE scratch (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")
        connection.executemany(
            "INSERT INTO scratch (body) VALUES (?)",
            ((os.urandom(500),) for _ in range(PREFILLED_ROWS)),
        )
    connection.close()
    return path


class Writer(threading.Thread):
    """Commits one row at a time into `scratch` until stopped, as a server would."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.committed = 0  # the id of the last row committed
        self.started_writing = threading.Event()
        self.stopping = threading.Event()
        self.error: Exception | None = None

    def run(self) -> None:
        connection = sqlite3.connect(self.path, timeout=30)
        try:
            while not self.stopping.is_set():
                cursor = connection.execute(
                    "INSERT INTO scratch (body) VALUES (?)", (os.urandom(500),)
                )
                connection.commit()
                self.committed = cursor.lastrowid or 0
                self.started_writing.set()
        except sqlite3.Error as exc:
            self.error = exc
        finally:
            connection.close()


@pytest.fixture
def writer(database: Path) -> Iterator[Writer]:
    thread = Writer(database)
    thread.start()
    assert thread.started_writing.wait(10)
    yield thread
    thread.stopping.set()
    thread.join(10)


def test_a_backup_taken_while_another_connection_writes_holds_every_row_committed_before(
    database: Path, writer: Writer, tmp_path: Path
) -> None:
    dest = tmp_path / "backups" / "pos-copy.sqlite3"
    dest.parent.mkdir()
    committed_before = writer.committed

    result = _backup(f"sqlite:///{database}", str(dest))

    assert result.exit_code == 0, result.output
    assert writer.error is None
    with sqlite3.connect(f"file:{dest}?mode=ro", uri=True) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        count, highest = copy.execute("SELECT count(*), max(id) FROM scratch").fetchone()
        migrations = copy.execute("SELECT count(*) FROM migration").fetchone()[0]
    copy.close()
    assert highest >= committed_before
    assert count == highest  # no row is missing below the last one copied
    assert sorted(p.name for p in dest.parent.iterdir()) == ["pos-copy.sqlite3"]
    assert f"backed up {database} to {dest}: {dest.stat().st_size:,} bytes" in result.stdout
    assert f"all {migrations} migrations of this version" in result.stdout
    copied = [int(n.replace(",", "")) for n in re.findall(r"copying: ([\d,]+)/", result.stderr)]
    assert len(copied) > 1
    assert copied == sorted(copied)  # one snapshot: the copy never started over
    assert "pages (100%)" in result.stderr


def test_an_existing_destination_is_kept_unless_forced(database: Path, tmp_path: Path) -> None:
    dest = tmp_path / "pos-copy.sqlite3"
    dest.write_bytes(b"last night's backup")
    url = f"sqlite:///{database}"

    _refused(_backup(url, str(dest)), f"{dest} exists: give --force to replace it")
    assert dest.read_bytes() == b"last night's backup"

    forced = _backup(url, "--force", str(dest))
    assert forced.exit_code == 0, forced.output
    with sqlite3.connect(f"file:{dest}?mode=ro", uri=True) as copy:
        assert copy.execute("SELECT count(*) FROM scratch").fetchone() == (PREFILLED_ROWS,)
    copy.close()


def test_a_database_an_older_version_wrote_is_copied_and_said_to_lack_migrations(
    database: Path, tmp_path: Path
) -> None:
    with sqlite3.connect(database) as connection:
        connection.execute("DELETE FROM migration WHERE id = (SELECT max(id) FROM migration)")
    connection.close()
    dest = tmp_path / "pos-copy.sqlite3"

    result = _backup(f"sqlite:///{database}", str(dest))

    assert result.exit_code == 0, result.output
    assert "1 of this version's missing" in result.stdout
    assert "`pos migrate` brings a restored copy up to date" in result.stdout
    assert dest.is_file()


def test_the_database_itself_is_never_a_destination(database: Path) -> None:
    _refused(
        _backup(f"sqlite:///{database}", "--force", str(database)),
        f"{database} is the database itself",
    )


def test_a_destination_in_a_missing_folder_is_named(database: Path, tmp_path: Path) -> None:
    dest = tmp_path / "no-such-folder" / "pos-copy.sqlite3"

    _refused(_backup(f"sqlite:///{database}", str(dest)), f"no folder {dest.parent}")
    assert not dest.parent.exists()


def test_a_missing_database_file_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    missing = tmp_path / "mistyped.sqlite3"

    _refused(
        _backup(f"sqlite:///{missing}", str(tmp_path / "copy")), f"no database file at {missing}"
    )
    assert sorted(tmp_path.iterdir()) == []


def test_a_file_that_is_not_a_pos_database_is_refused_and_no_copy_kept(tmp_path: Path) -> None:
    other = tmp_path / "platform.sqlite3"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE received (id INTEGER PRIMARY KEY)")
    connection.close()
    dest = tmp_path / "copy.sqlite3"

    _refused(_backup(f"sqlite:///{other}", str(dest)), f"{other} holds none of the migrations")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["platform.sqlite3"]


def test_postgresql_is_refused_with_the_pg_dump_command_without_the_password(
    tmp_path: Path,
) -> None:
    url = "postgresql://pos:s3cret@db.example:5432/pos?sslmode=require&password=s3cret"
    dest = tmp_path / "pos.dump"

    result = _backup(url, str(dest))

    _refused(result, "pos backup copies SQLite databases only")
    command = f"pg_dump -Fc --file {dest} 'postgresql://pos@db.example:5432/pos?sslmode=require'"
    assert command in result.output
    assert "s3cret" not in result.output
    assert not dest.exists()
