"""The `pos` command: serve, migrate, load data, run the virtual printer."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click
import uvicorn

from pos.app import create_app
from pos.catalog.service import import_catalog_file
from pos.db import bind, close_engine, create_engine, open_engine
from pos.db.migrate import migrate as run_migrations
from pos.demo import load_demo
from pos.errors import PosError
from pos.settings import Settings, SettingsError, load_settings
from pos.stores.layout import apply_layouts_file

__all__ = ["main"]

T = TypeVar("T")


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _with_database(work: Callable[[], Awaitable[T]]) -> T:
    """Run `work` with the configured database bound and open."""
    async def run() -> T:
        engine = create_engine(_settings().database_url)
        bind(engine)
        await open_engine(engine)
        try:
            return await work()
        except PosError as exc:
            raise click.ClickException(_describe(exc)) from None
        finally:
            await close_engine(engine)

    return asyncio.run(run())


def _describe(exc: Exception) -> str:
    lines = [str(exc)]
    for error in getattr(exc, "extra", {}).get("errors", [])[:50]:
        lines.append(f"  line {error['line']}: {error['reason']}")
    return "\n".join(lines)


def _progress(phase: str, done: int, total: int) -> None:
    percent = 100 * done // total if total else 100
    click.echo(f"\r{phase}: {done:,}/{total:,} ({percent}%)", nl=done >= total, err=True)


@click.group()
def main() -> None:
    """Server for poverty-alleviation counters and supermarket zones."""


@main.command()
@click.option("--host", default=None, help="default: POS_HOST")
@click.option("--port", type=int, default=None, help="default: POS_PORT")
def serve(host: str | None, port: int | None) -> None:
    """Serve the API and pages."""
    settings = _settings()
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        log_level="warning",
        proxy_headers=True,
    )


@main.command()
def migrate() -> None:
    """Apply database migrations (safe to repeat)."""
    _with_database(run_migrations)
    click.echo("database is up to date")


@main.group()
def catalog() -> None:
    """The certified product catalog."""


@catalog.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_catalog(file: Path) -> None:
    """Import a certified list (.csv or .jsonl); a file with bad rows changes nothing."""
    report = _with_database(lambda: import_catalog_file(file, progress=_progress))
    click.echo(report.model_dump_json())


@main.group()
def stores() -> None:
    """Stores, counters, devices and printers."""


@stores.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def load_stores(file: Path) -> None:
    """Create or update the stores described in a JSON file (a list of store layouts)."""
    ids = _with_database(lambda: apply_layouts_file(file))
    click.echo(f"{len(ids)} store(s) loaded")


@main.command()
@click.option("--dir", "directory", default="fixtures/demo", show_default=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path))
def demo(directory: Path) -> None:
    """Load the demo catalog, stores and staff (safe to repeat)."""
    summary = _with_database(lambda: load_demo(directory, progress=_progress))
    click.echo(json.dumps(summary, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    sys.exit(main())
