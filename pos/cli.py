"""The `pos` command: serve, migrate, load data, run the virtual printer."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import socket
import sqlite3
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Literal

import click
import uvicorn

import printers
from pos import live
from pos.analytics.rebuild import rebuild as rebuild_analytics
from pos.app import create_app
from pos.catalog.service import import_catalog_file
from pos.cli_backup import backup
from pos.cli_database import cli_settings, with_database
from pos.cli_staff import staff_group
from pos.cli_stores import list_devices, pair_device, pairing_line
from pos.cli_suppliers import suppliers_group
from pos.db.migrate import migrate as run_migrations
from pos.demo import load_demo
from pos.events import dead as dead_events
from pos.inventory import feeds
from pos.layouts import apply_layouts_file
from pos.logs import configure_logging
from pos.orders.tokens import counter_qr_token
from pos.platform.double.app import create_double_app
from pos.platform.reconcile import reconcile as reconcile_day
from pos.staff import service as staff_service
from pos.stores import service as stores_service
from pos.worker import worker_main

__all__ = ["main"]

PORT = click.IntRange(1, 65535)


def _operator() -> str:
    """Who a price change made from the command line is recorded as: the account running it."""
    try:
        account = getpass.getuser()
    except (KeyError, OSError):  # a container's UID without a passwd entry, and no $USER
        account = f"uid-{os.getuid()}"
    return f"cli:{account}"


def _readable(ctx: click.Context, param: click.Parameter, file: Path) -> Path:
    """`file`, once opened: one that cannot be read is named, not taken for the database down."""
    try:
        file.open("rb").close()
    except OSError as exc:
        raise click.BadParameter(f"cannot read {file}: {exc.strerror}") from None
    return file


def _progress(phase: str, done: int, total: int) -> None:
    percent = 100 * done // total if total else 100
    click.echo(f"\r{phase}: {done:,}/{total:,} ({percent}%)", nl=done >= total, err=True)


@click.group()
def main() -> None:
    """Server for poverty-alleviation counters and supermarket zones."""


@main.command()
@click.option("--host", default=None, help="default: POS_HOST")
@click.option("--port", type=PORT, default=None, help="default: POS_PORT")
def serve(host: str | None, port: int | None) -> None:
    """Serve the API and pages."""
    settings = cli_settings()
    with_database(_nothing_more)  # refuses a database unreachable or not migrated
    config = uvicorn.Config(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        log_level="warning",
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        timeout_graceful_shutdown=settings.shutdown_grace_s,
    )
    _Server(config).run()


class _Server(uvicorn.Server):
    """uvicorn's server, ending the order status streams as it begins to stop: it waits for
    the responses in flight, and a stream ends only with its order."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        live.end_streams()
        await super().shutdown(sockets)


async def _nothing_more() -> None:
    """No work: a command that runs the app itself needs only `with_database`'s checks."""


@main.command()
def worker() -> None:
    """Run the background worker (outbox events) until SIGINT or SIGTERM."""
    settings = cli_settings()
    configure_logging(settings)
    with_database(lambda: worker_main(settings))


@main.command()
def migrate() -> None:
    """Apply database migrations (safe to repeat)."""
    with_database(run_migrations, creates=True)
    click.echo("database is up to date")


@main.group()
def catalog() -> None:
    """The certified product catalog."""


@catalog.command("import")
@click.argument(
    "file", type=click.Path(exists=True, dir_okay=False, path_type=Path), callback=_readable
)
def import_catalog(file: Path) -> None:
    """Import a certified list (.csv, .jsonl or .ndjson); a file with bad rows changes nothing."""
    report = with_database(
        lambda: import_catalog_file(file, changed_by=_operator(), progress=_progress)
    )
    click.echo(report.model_dump_json())


@main.group()
def stores() -> None:
    """Stores, counters, devices and printers."""


@stores.command("load")
@click.argument(
    "file", type=click.Path(exists=True, dir_okay=False, path_type=Path), callback=_readable
)
def load_stores(file: Path) -> None:
    """Create or update the stores described in a JSON file (a list of store layouts).

    What a store's layout leaves out is withdrawn: counters close, devices lose their tokens,
    listings stop selling.
    """
    zone = cli_settings().time_zone  # for new stores whose layout names none
    applied = with_database(
        lambda: apply_layouts_file(file, changed_by=_operator(), default_time_zone=zone)
    )
    for store in applied:
        if withdrawn := store.withdrawn():
            click.echo(f"{store.code}: {withdrawn}")
    click.echo(f"{len(applied)} store(s) loaded")


stores.add_command(list_devices)
stores.add_command(pair_device)
main.add_command(backup)
main.add_command(staff_group)
main.add_command(suppliers_group)


@main.command()
@click.option(
    "--dir",
    "directory",
    default="fixtures/demo",
    show_default=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
def demo(directory: Path) -> None:
    """Load the demo catalog, stores, staff and stock (safe to repeat); print the pages to open."""
    settings = cli_settings()
    summary = with_database(lambda: load_demo(directory, progress=_progress))
    pairings = with_database(_pair_demo_kiosks)
    base, secret = settings.public_url, settings.secret_key.get_secret_value()
    click.echo(f"demo loaded: {summary.products} products, {summary.stores} stores")
    for code, counter_id in sorted(summary.counter_ids.items()):
        token = counter_qr_token(counter_id, secret=secret)
        click.echo(
            f"  shopper's phone, counter {code} (its QR code): {base}/c/{counter_id}?t={token}"
        )
    for name, token in sorted(pairings.items()):
        click.echo(f"  {pairing_line('kiosk', name, token, base)}")
    click.echo(f"  staff tablet: {base}/staff/login")
    click.echo(f"  API docs: {base}/schema  (Swagger UI: {base}/schema/swagger)")
    click.echo("  staff sign-ins:")
    for username, password in summary.credentials.items():
        click.echo(f"    {username} / {password}")


async def _pair_demo_kiosks() -> dict[str, str]:
    """A fresh device token for each kiosk of the demo (every run issues new ones)."""
    tokens: dict[str, str] = {}
    for store in await stores_service.list_stores():
        for name, device_id in (await stores_service.device_ids_of([store.id], "kiosk")).items():
            issued = await staff_service.issue_device_token(device_id, store_id=store.id)
            tokens[name] = issued.token
    return tokens


@main.group()
def inventory() -> None:
    """Stock, batches and supplier sync."""


@inventory.command("pull-feeds")
def pull_feeds() -> None:
    """Pull every supplier's stock feed now; exit 1 if any was refused or unreachable."""
    results = with_database(feeds.pull_all)
    if not results:
        click.echo("no supplier has a stock feed: set one with PUT /api/suppliers/{id}/feed")
    for supplier_id, result in results.items():
        text = result if isinstance(result, str) else result.model_dump_json()
        click.echo(f"supplier {supplier_id}: {text}")
    if any(isinstance(result, str) for result in results.values()):
        sys.exit(1)


@main.group()
def printer() -> None:
    """Receipt printers."""


@printer.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=PORT, default=9100, show_default=True, help="ESC/POS over TCP")
@click.option("--control-port", type=PORT, default=None, help="line commands: paper out, ...")
@click.option(
    "--out",
    "out_dir",
    default="var/printer",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="where each receipt is saved as .txt, .png and .bin",
)
@click.option("--paper", type=click.Choice(["58", "80"]), default="80", show_default=True)
def serve_printer(
    host: str, port: int, control_port: int | None, out_dir: Path, paper: str
) -> None:
    """Run a virtual ESC/POS printer until Ctrl-C."""
    _require_receipt_folder(out_dir)
    click.echo(f"virtual printer on tcp://{host}:{port}, receipts saved to {out_dir}")
    paper_mm: Literal[58, 80] = 58 if paper == "58" else 80
    with contextlib.suppress(KeyboardInterrupt):
        try:
            asyncio.run(printers.serve(host, port, out_dir, control_port, paper_mm=paper_mm))
        except OSError as exc:  # the port is taken, or not this machine's address
            raise click.ClickException(f"the virtual printer cannot listen: {exc}") from None


def _require_receipt_folder(folder: Path) -> None:
    """Make `folder` if need be, and stop unless a receipt's file can be created in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as exc:
        raise click.ClickException(f"cannot save receipts in {folder}: {exc.strerror}") from None


@main.group("platform")
def platform_group() -> None:
    """Forwarding certified transactions to the national platform."""


@platform_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=PORT, default=8100, show_default=True)
@click.option(
    "--db",
    "database",
    default="var/platform.sqlite3",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="the double's own SQLite file",
)
def serve_platform(host: str, port: int, database: Path) -> None:
    """Run the platform double (checks signatures, dedupes, answers daily totals)."""
    settings = cli_settings()
    try:
        app = create_double_app(database, settings)
    except (OSError, sqlite3.Error) as exc:
        raise click.ClickException(f"the platform double cannot keep {database}: {exc}") from None
    click.echo(f"platform double on http://{host}:{port}, keeping {database}")
    uvicorn.run(app, host=host, port=port, log_level="warning")


@platform_group.command("reconcile")
@click.option("--date", "day", required=True, type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--resend", is_flag=True, help="send what the platform lacks, then compare again")
def reconcile_platform(day: datetime, resend: bool) -> None:
    """Compare a store-local day's certified totals with the platform's; exit 1 on differences."""
    settings = cli_settings()
    report = with_database(lambda: reconcile_day(day.date(), settings, resend=resend))
    for transaction_id in report.resent:
        click.echo(f"resent {transaction_id}")
    for d in report.differences:
        click.echo(
            f"{d.merchant_id} {d.scope} {d.key}: here {d.local_fen}, platform {d.platform_fen}"
        )
    click.echo(
        f"{report.business_day}: {report.local_transactions} transactions here, "
        f"{report.platform_transactions} at the platform, {len(report.differences)} differences"
    )
    if report.differences:
        sys.exit(1)


@main.group("outbox")
def outbox_group() -> None:
    """Effects waiting to run after a commit, and those the workers gave up on."""


@outbox_group.command("status")
def outbox_status() -> None:
    """Events due now, waiting for later, and dead."""
    status = with_database(dead_events.outbox_status)
    since = status.oldest_due_at
    oldest = f" (the oldest since {since:%Y-%m-%d %H:%M:%S} UTC)" if since else ""
    click.echo(f"due: {status.due}{oldest}, waiting: {status.waiting}, dead: {status.dead}")


@outbox_group.command("dead")
@click.option("--kind", default=None, help="only events of this kind, e.g. order_paid")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
def list_dead(kind: str | None, limit: int) -> None:
    """The events the workers gave up on, the latest first, with their last error."""
    found = with_database(lambda: dead_events.dead_events(kind, limit))
    for event in found:
        click.echo(f"{event.id} {event.kind} {event.key} died {event.dead_at:%Y-%m-%d %H:%M:%S}")
        click.echo(f"  after {event.attempts} attempts: {event.last_error}")
    if not found:
        click.echo("no dead events")


@outbox_group.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "every", is_flag=True, help="every dead event (narrow with --kind)")
@click.option("--kind", default=None, help="only events of this kind")
def retry_dead(ids: tuple[int, ...], every: bool, kind: str | None) -> None:
    """Run dead events again once their cause is fixed (safe: handlers are idempotent)."""
    if not ids and not every:
        raise click.UsageError("name the dead events' ids, or give --all (with --kind to narrow)")
    count = with_database(lambda: dead_events.retry(list(ids) if ids else None, kind=kind))
    click.echo(f"{count} dead event(s) due again")


@main.group("analytics")
def analytics_group() -> None:
    """Sales rollups, repeat buyers and cohorts."""


@analytics_group.command("rebuild")
def rebuild_rollups() -> None:
    """Recompute every analytics rollup from the orders (safe to repeat)."""
    counts = with_database(lambda: rebuild_analytics(progress=_progress))
    click.echo(f"rollups rebuilt: {counts.purchases:,} purchases, {counts.buyers:,} buyers")


if __name__ == "__main__":
    sys.exit(main())
