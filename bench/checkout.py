"""Checkout end to end: create an order, pay by QR in the sandbox wallet, wait until it is paid.

    .venv/bin/python bench/checkout.py                      # 200/400/800 orders at 1/8/32 clients
    POS_BENCH_QUICK=1 .venv/bin/python bench/checkout.py    # 20/40/80 orders
    POS_BENCH_SHAPE=embedded .venv/bin/python bench/checkout.py   # one process, its own worker

Starts everything itself on 127.0.0.1: a PostgreSQL database pos_bench_<random> (migrated, demo
loaded, stock raised, printers writing to /dev/null; dropped at the end, also on Ctrl-C), then
the production shape for two cores: `pos serve` with POS_RUN_WORKER=false plus one `pos worker`,
sharing live events through Redis under a private prefix. Each client loops: create an order at
a demo counter, open its live status (SSE), start a QR payment, pay in the sandbox wallet, and
wait for the `paid` event, sent once the worker has delivered the sandbox's signed notification.
Per level: paid orders/s, p50/p95/p99 per step (leaving out each client's first checkout, made
in a burst at the start) and of the outbox lag (due to done) of each sale's notification and
`order_paid` event, CPU per paid order of each process, and errors. Before the levels, the CPU
one trivial statement costs in the client and in PostgreSQL: the floor under every statement,
which tells how this machine compares with another.
Progress goes to stderr; stdout gets one line of JSON. A run with errors says so and exits 1.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import uvloop

from pos.db import opened_database
from pos.inventory import service as inventory
from pos.orders.tokens import counter_qr_token
from pos.stores import tables as stores
from pos.testing import (
    create_database,
    drop_database,
    free_port,
    start_pos,
    stop,
    wait_until_healthy,
)

REDIS_URL = "redis://127.0.0.1:6379/0"
LEVELS = {1: 200, 8: 400, 32: 800}
QUICK_LEVELS = {1: 20, 8: 40, 32: 80}
WARMUP_CLIENTS, WARMUP_ORDERS = 4, 16
STEPS = ("create", "start_payment", "wallet_pay", "notify_to_paid", "total")
PERCENTILES = (50, 95, 99)
STOCK_UNITS = 1_000_000
SHOPPERS = 5_000  # distinct wallet payers: a few buy twice, as at a real counter
NULL_PRINTER = "file:///dev/null"
STARTUP_S, PAID_TIMEOUT_S, DRAIN_TIMEOUT_S, DRAIN_POLL_S = 30.0, 30.0, 60.0, 0.1
TARGET_PAID_PER_S, TARGET_CREATE_P99_MS = 150.0, 100.0
Processes = dict[str, subprocess.Popen[bytes]]
# Outbox events of every sale whose lag (due to done) the figures show: the sandbox's notification
# to the server, and the sale's receipt, analytics and platform document.
SALE_EVENTS = ("sandbox_notify", "order_paid")
EVENT_LAGS = (
    "SELECT kind, extract(epoch FROM done_at - available_at) AS lag_s FROM outbox_event"
    " WHERE kind = ANY($1) AND created_at >= $2 AND done_at IS NOT NULL"
)
DUE_EVENTS = (
    "SELECT count(*) FROM outbox_event"
    " WHERE done_at IS NULL AND dead_at IS NULL AND available_at <= now()"
)


def log(message: str, end: str = "\n") -> None:
    """Progress and findings go to stderr; stdout is kept for the JSON line."""
    print(message, end=end, file=sys.stderr, flush=True)


# The services: database, server, worker.


def service_env(dsn: str, url: str, split: bool) -> dict[str, str]:
    """The environment of every `pos` command: inherited, minus the caller's POS_* settings."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("POS_")}
    env |= {
        "POS_DATABASE_URL": dsn,
        "POS_PUBLIC_URL": url,
        "POS_SECRET_KEY": secrets.token_urlsafe(32),
        "POS_LOG_LEVEL": "WARNING",
        "POS_RUN_WORKER": "false" if split else "true",
        "POS_ORDER_BUDGET": "0",  # every simulated shopper orders from this one address
    }
    if split:
        env |= {"POS_REDIS_URL": REDIS_URL, "POS_REDIS_PREFIX": dsn.rsplit("/", 1)[1]}
    return env


def run_cli(args: list[str], env: dict[str, str], output: Path) -> None:
    """Run a `pos` command to completion; its output goes to `output`."""
    log(f"pos {' '.join(args)}")
    with output.open("ab") as sink:
        done = subprocess.run(
            [sys.executable, "-m", "pos.cli", *args], env=env, stdout=sink, stderr=sink
        )
    if done.returncode != 0:
        raise SystemExit(f"pos {args[0]} failed:\n{output.read_text()}")


async def prepare_shelves(dsn: str) -> list[int]:
    """Stock every listed product deep enough for the run, print to /dev/null; the counter ids."""
    async with opened_database(dsn):
        counters = await stores.Counter.select(stores.Counter.id, stores.Counter.store)
        for store_id in sorted({row["store"] for row in counters}):
            listed = await stores.Listing.select(stores.Listing.product).where(
                stores.Listing.store == store_id
            )
            for row in listed:
                await inventory.set_level(store_id, row["product"], STOCK_UNITS)
        await stores.Printer.update({stores.Printer.connection_url: NULL_PRINTER}, force=True)
        return sorted(row["id"] for row in counters)


# One shopper's checkout.


@dataclass(frozen=True, slots=True)
class Till:
    """A demo counter as a shopper's phone sees it: its QR token and what it sells by the piece."""

    counter_id: int
    token: str
    product_ids: tuple[int, ...]

    def order(self, rng: random.Random) -> dict[str, Any]:
        """A basket of one to three products, one or two of each."""
        picks = rng.sample(self.product_ids, k=rng.randint(1, min(3, len(self.product_ids))))
        lines = [{"product_id": product, "quantity": rng.randint(1, 2)} for product in picks]
        return {"counter_token": self.token, "lines": lines}


class StepFailed(Exception):
    """A step got an unexpected answer; `kind` names the step and the answer."""

    def __init__(self, step: str, what: str) -> None:
        super().__init__(f"{step}: {what}")
        self.kind = f"{step}: {what}"


async def expect(response: aiohttp.ClientResponse, step: str, *statuses: int) -> None:
    """Nothing, if the response's status is one of `statuses`; StepFailed otherwise."""
    if response.status not in statuses:
        text = await response.text()
        raise StepFailed(step, f"HTTP {response.status} {text[:100]!r}")


async def call(
    http: aiohttp.ClientSession, method: str, url: str, step: str, *statuses: int, **request: Any
) -> Any:
    """The JSON answer to a request whose status must be one of `statuses`."""
    async with http.request(method, url, **request) as response:
        await expect(response, step, *statuses)
        return await response.json()


async def tills(http: aiohttp.ClientSession, counter_ids: list[int], secret: str) -> list[Till]:
    """Each counter's piece products, read from its public catalog like the phone page does."""
    found = []
    for counter_id in counter_ids:
        url, params = f"/api/counters/{counter_id}/products", {"limit": 200}
        items = (await call(http, "GET", url, "catalog", 200, params=params))["items"]
        pieces = tuple(item["product_id"] for item in items if item["unit"] == "piece")
        if pieces:
            found.append(Till(counter_id, counter_qr_token(counter_id, secret=secret), pieces))
    if not found:
        raise SystemExit("no demo counter sells anything by the piece")
    return found


async def create_order(
    http: aiohttp.ClientSession, till: Till, rng: random.Random
) -> dict[str, Any]:
    """Create an order with a fresh Idempotency-Key; the order with its access token."""
    order: dict[str, Any] = await call(
        http,
        "POST",
        f"/api/counters/{till.counter_id}/orders",
        "create",
        201,
        json=till.order(rng),
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    return order


async def start_payment(http: aiohttp.ClientSession, order: dict[str, Any]) -> str:
    """Start a QR payment; the sandbox payment's out_trade_no."""
    payment = await call(
        http,
        "POST",
        f"/api/orders/{order['id']}/payments",
        "start_payment",
        200,
        201,
        params={"token": order["access_token"]},
        json={"method": "qr"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    return str(payment["out_trade_no"])


async def wallet_pay(http: aiohttp.ClientSession, out_trade_no: str, payer: str) -> None:
    """Press Pay on the sandbox wallet page, as the shopper `payer`."""
    async with http.post(f"/sandbox/pay/{out_trade_no}", data={"payer": payer}) as response:
        await expect(response, "wallet_pay", 200)
        await response.read()


async def paid_moment(http: aiohttp.ClientSession, order: dict[str, Any]) -> float:
    """The perf_counter moment the order's live status stream says `paid`."""
    url, params = f"/api/orders/{order['id']}/events", {"token": order["access_token"]}
    async with http.get(url, params=params) as response:
        await expect(response, "events", 200)
        async for line in response.content:
            if not line.startswith(b"data:"):
                continue
            state = json.loads(line.removeprefix(b"data:"))["state"]
            if state == "paid":
                return time.perf_counter()
            if state in ("closed", "refunded"):
                raise StepFailed("paid", f"order became {state}")
    raise StepFailed("paid", "the status stream ended before paid")


async def checkout(http: aiohttp.ClientSession, till: Till, rng: random.Random) -> dict[str, float]:
    """One shopper's checkout, as the phone page does it; seconds per step."""
    t0 = time.perf_counter()
    order = await create_order(http, till, rng)
    t1 = time.perf_counter()
    watcher = asyncio.create_task(paid_moment(http, order))
    try:
        out_trade_no = await start_payment(http, order)
        t2 = time.perf_counter()
        await wallet_pay(http, out_trade_no, f"bench-shopper-{rng.randrange(SHOPPERS)}")
        t3 = time.perf_counter()
        t4 = await asyncio.wait_for(watcher, PAID_TIMEOUT_S)
    except TimeoutError:
        raise StepFailed("paid", f"not paid within {PAID_TIMEOUT_S:.0f} s") from None
    finally:
        watcher.cancel()
    # The worker may deliver the notification before the wallet's answer reaches us.
    steps = (t1 - t0, t2 - t1, t3 - t2, max(t4 - t3, 0.0), t4 - t0)
    return dict(zip(STEPS, steps, strict=True))


# A level: N clients, each running checkouts until the level's orders are taken.


@dataclass(slots=True)
class Tally:
    """A level's outcome so far: paid orders, seconds per step of each, and errors by kind.

    A client's first checkout counts as paid but not in the latencies: every client starts at
    the same instant, a burst no counter sees; later checkouts are spread by the flow itself.
    """

    samples: list[dict[str, float]] = field(default_factory=list)
    first_paid: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def paid(self) -> int:
        """Orders seen paid."""
        return len(self.samples) + self.first_paid

    @property
    def finished(self) -> int:
        """Checkouts done, paid or failed."""
        return self.paid + sum(self.errors.values())

    def add(self, steps: dict[str, float], *, first: bool) -> None:
        """Count a paid checkout; keep its step times unless it was the client's first."""
        if first:
            self.first_paid += 1
        else:
            self.samples.append(steps)


@dataclass(slots=True)
class Level:
    """One concurrency level's run: how long it took, what happened, the CPU it cost."""

    clients: int
    orders: int
    seconds: float
    tally: Tally
    cpu_s: dict[str, float] = field(default_factory=dict)
    lags_s: dict[str, list[float]] = field(default_factory=dict)

    @property
    def paid_per_s(self) -> float:
        """Paid orders per second of wall time."""
        return self.tally.paid / self.seconds


async def shopper(
    http: aiohttp.ClientSession, till_list: list[Till], tickets: Iterator[int], tally: Tally
) -> None:
    """Take order numbers until none are left; record each checkout's steps or its error."""
    rng = random.Random()
    for count, number in enumerate(tickets):
        try:
            steps = await checkout(http, till_list[number % len(till_list)], rng)
            tally.add(steps, first=count == 0)
        except StepFailed as exc:
            tally.errors[exc.kind] += 1
        except (aiohttp.ClientError, TimeoutError) as exc:
            tally.errors[f"http: {type(exc).__name__}"] += 1


async def show_progress(label: str, tally: Tally, orders: int) -> None:
    """Rewrite one stderr line every second until cancelled."""
    started = time.perf_counter()
    while True:
        await asyncio.sleep(1.0)
        rate = tally.paid / (time.perf_counter() - started)
        errors = sum(tally.errors.values())
        log(f"\r  {label}: {tally.finished}/{orders}, {errors} errors, {rate:.1f} paid/s ", end="")


@asynccontextmanager
async def http_client(url: str, clients: int) -> AsyncIterator[aiohttp.ClientSession]:
    """A client with room for each shopper's request and live status stream.

    aiohttp rather than httpx, the product's client: the shoppers run on the two cores they
    measure, and aiohttp's C parser costs them about a quarter of the CPU per checkout.
    """
    connector = aiohttp.TCPConnector(limit=2 * clients + 4)
    timeout = aiohttp.ClientTimeout(total=PAID_TIMEOUT_S)
    async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as http:
        yield http


async def run_level(url: str, till_list: list[Till], clients: int, orders: int) -> Level:
    """`orders` checkouts by `clients` concurrent shoppers."""
    tally, tickets = Tally(), iter(range(orders))
    label = f"c{clients}"
    async with http_client(url, clients) as http:
        progress = asyncio.create_task(show_progress(label, tally, orders))
        started = time.perf_counter()
        try:
            await asyncio.gather(
                *(shopper(http, till_list, tickets, tally) for _ in range(clients))
            )
        finally:
            progress.cancel()
        seconds = time.perf_counter() - started
    log(f"\r  {label}: {tally.finished}/{orders} done in {seconds:.2f} s" + " " * 20)
    return Level(clients, orders, seconds, tally)


# CPU per process, from /proc: where the time goes without a profiler.


def process_cpu_s(pid: int) -> float:
    """User plus system CPU seconds of a live process; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def cpu_snapshot(pids: dict[str, int], db: asyncpg.Connection) -> dict[str, float]:
    """CPU seconds so far of the server, the worker, this bench, and the database's backends."""
    backends = await db.fetch("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
    snapshot = {name: process_cpu_s(pid) for name, pid in pids.items()}
    snapshot["postgres"] = sum(process_cpu_s(row["pid"]) for row in backends)
    snapshot["bench_client"] = time.process_time()
    return snapshot


async def round_trip_cpu_us(db: asyncpg.Connection, trips: int = 2_000) -> dict[str, float]:
    """CPU microseconds one trivial statement costs here, in this client and in PostgreSQL.

    The floor under every statement an order runs: it sets how machines compare.
    """
    backend = db.get_server_pid()
    client, server = time.process_time(), process_cpu_s(backend)
    for n in range(trips):
        await db.fetchval("SELECT $1::int", n)
    return {
        "round_trip_client_cpu_us": round(1e6 * (time.process_time() - client) / trips, 1),
        "round_trip_postgres_cpu_us": round(1e6 * (process_cpu_s(backend) - server) / trips, 1),
    }


@dataclass(frozen=True, slots=True)
class Probe:
    """What the bench watches besides HTTP: process ids and a connection to the database."""

    pids: dict[str, int]
    db: asyncpg.Connection


async def measured(
    url: str, till_list: list[Till], clients: int, orders: int, probe: Probe
) -> Level:
    """A level with the CPU each process spent on it and, once drained, its sale events' lags."""
    started_at = await probe.db.fetchval("SELECT clock_timestamp()")
    before = await cpu_snapshot(probe.pids, probe.db)
    level = await run_level(url, till_list, clients, orders)
    after = await cpu_snapshot(probe.pids, probe.db)
    level.cpu_s = {name: after[name] - before[name] for name in before}
    await drain(probe.db)
    for row in await probe.db.fetch(EVENT_LAGS, list(SALE_EVENTS), started_at):
        level.lags_s.setdefault(row["kind"], []).append(float(row["lag_s"]))
    return level


async def drain(db: asyncpg.Connection) -> None:
    """Wait until no outbox event is due, so a level's leftovers do not slow the next one."""
    for _ in range(round(DRAIN_TIMEOUT_S / DRAIN_POLL_S)):
        if not (due := await db.fetchval(DUE_EVENTS)):
            return
        await asyncio.sleep(DRAIN_POLL_S)
    log(f"  !! {due} outbox events still due after {DRAIN_TIMEOUT_S:.0f} s")


async def outbox_problems(db: asyncpg.Connection) -> Counter[str]:
    """Outbox events that died or needed a retry: a healthy run has none."""
    rows = await db.fetch(
        "SELECT kind, dead_at IS NOT NULL AS dead, left(last_error, 80) AS error"
        " FROM outbox_event WHERE last_error <> '' OR dead_at IS NOT NULL"
    )
    return Counter(
        f"outbox {'dead' if r['dead'] else 'retried'}: {r['kind']}: {r['error']}" for r in rows
    )


# Figures.


def percentiles_ms(values: list[float]) -> dict[int, float]:
    """p50/p95/p99 of `values` (seconds) in milliseconds."""
    if len(values) < 2:
        return dict.fromkeys(PERCENTILES, round(values[0] * 1000, 1) if values else 0.0)
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {p: round(cuts[p - 1] * 1000, 1) for p in PERCENTILES}


def level_figures(level: Level) -> dict[str, Any]:
    """The level's JSON keys, prefixed c<clients>_."""
    prefix, paid = f"c{level.clients}_", level.tally.paid
    figures: dict[str, Any] = {
        f"{prefix}orders": level.orders,
        f"{prefix}paid_orders_per_s": round(level.paid_per_s, 1),
        f"{prefix}errors": sum(level.tally.errors.values()),
    }
    for step in STEPS:
        for p, ms in percentiles_ms([s[step] for s in level.tally.samples]).items():
            figures[f"{prefix}{step}_p{p}_ms"] = ms
    for name, seconds in level.cpu_s.items():
        figures[f"{prefix}{name}_cpu_ms_per_order"] = round(1000 * seconds / max(paid, 1), 2)
    for kind in SALE_EVENTS:
        for p, ms in percentiles_ms(level.lags_s.get(kind, [])).items():
            figures[f"{prefix}{kind}_lag_p{p}_ms"] = ms
    return figures


def show_level(level: Level) -> None:
    """The level's figures as a small table on stderr, its errors last."""
    paid, errors = level.tally.paid, sum(level.tally.errors.values())
    log(f"c{level.clients}: {paid} paid, {level.paid_per_s:.1f} paid orders/s, {errors} errors")
    log(f"  {'step':<16}" + "".join(f"{f'p{p} ms':>9}" for p in PERCENTILES))
    for step in STEPS:
        cuts = percentiles_ms([s[step] for s in level.tally.samples])
        log(f"  {step:<16}" + "".join(f"{cuts[p]:>9.1f}" for p in PERCENTILES))
    for kind in SALE_EVENTS:
        cuts = percentiles_ms(level.lags_s.get(kind, []))
        log(f"  {kind + ' lag':<16}" + "".join(f"{cuts[p]:>9.1f}" for p in PERCENTILES))
    cpu = ", ".join(f"{n} {1000 * s / max(paid, 1):.1f}" for n, s in level.cpu_s.items())
    log(f"  CPU ms per paid order: {cpu}")
    for kind, count in level.tally.errors.most_common(5):
        log(f"  !! {count} x {kind}")


def summary(
    shape: str,
    load_at_start: float,
    round_trip: dict[str, float],
    levels: list[Level],
    problems: Counter[str],
) -> dict[str, Any]:
    """The JSON line: setting, per-level figures, errors and whether the targets are met."""
    result: dict[str, Any] = {"bench": "checkout", "database": "postgresql", "shape": shape}
    result |= {"cpu_count": os.cpu_count(), "load_1m_at_start": load_at_start} | round_trip
    result["load_1m_at_end"] = round(os.getloadavg()[0], 2)
    for level in levels:
        result |= level_figures(level)
    top = levels[-1]
    result["errors"] = sum(sum(lv.tally.errors.values()) for lv in levels) + problems.total()
    result["target_paid_orders_per_s"] = TARGET_PAID_PER_S
    result["target_create_p99_ms"] = TARGET_CREATE_P99_MS
    result["meets_targets"] = (
        top.paid_per_s >= TARGET_PAID_PER_S
        and result[f"c{top.clients}_create_p99_ms"] < TARGET_CREATE_P99_MS
    )
    return result


# The run.


async def measure(
    url: str, counter_ids: list[int], secret: str, probe: Probe, quick: bool
) -> tuple[list[Level], Counter[str]]:
    """Warm up, run each level with the outbox drained between them, then check the outbox."""
    async with http_client(url, 1) as http:
        till_list = await tills(http, counter_ids, secret)
    log(f"warm-up: {WARMUP_ORDERS} orders")
    warmup = await run_level(url, till_list, WARMUP_CLIENTS, WARMUP_ORDERS)
    await drain(probe.db)
    levels = []
    for clients, orders in (QUICK_LEVELS if quick else LEVELS).items():
        levels.append(await measured(url, till_list, clients, orders, probe))
        show_level(levels[-1])
    problems = await outbox_problems(probe.db) + warmup.tally.errors
    for kind, count in problems.most_common(5):
        log(f"  !! {count} x {kind}")
    return levels, problems


def start_services(env: dict[str, str], port: int, logs: Path) -> Processes:
    """`pos serve`, and `pos worker` unless the server runs its own."""
    serve = ["serve", "--host", "127.0.0.1", "--port", str(port)]
    processes = {"server": start_pos(serve, env, logs / "server.log")}
    if env["POS_RUN_WORKER"] == "false":
        processes["worker"] = start_pos(["worker"], env, logs / "worker.log")
    return processes


def show_logs(logs: Path) -> None:
    """The end of each service's log, for a run that failed."""
    for path in sorted(logs.glob("*.log")):
        tail = path.read_text(errors="replace").splitlines()[-15:]
        log(f"--- {path.name}\n" + "\n".join(tail))


def interrupt(signum: int, frame: object) -> None:
    """SIGTERM stops the bench like Ctrl-C: services stopped, database dropped."""
    raise KeyboardInterrupt


async def bench(dsn: str, split: bool, quick: bool) -> dict[str, Any]:
    """Prepare the database, start the services, measure, and stop them again."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = service_env(dsn, url, split)
    shape = "1 server + 1 worker + redis" if split else "1 server with embedded worker"
    load_at_start = round(os.getloadavg()[0], 2)
    log(f"shape: {shape}; database {dsn.rsplit('/', 1)[1]}")
    with tempfile.TemporaryDirectory(prefix="pos_bench_") as folder:
        logs = Path(folder)
        run_cli(["migrate"], env, logs / "setup.log")
        run_cli(["demo"], env, logs / "setup.log")
        counter_ids = await prepare_shelves(dsn)
        processes = start_services(env, port, logs)
        db = await asyncpg.connect(dsn)
        try:
            wait_until_healthy(url, processes["server"], logs / "server.log", STARTUP_S)
            round_trip = await round_trip_cpu_us(db)
            log(
                "one round trip to PostgreSQL (SELECT $1) costs, in CPU: client"
                f" {round_trip['round_trip_client_cpu_us']} µs,"
                f" PostgreSQL {round_trip['round_trip_postgres_cpu_us']} µs"
            )
            probe = Probe({name: p.pid for name, p in processes.items()}, db)
            levels, problems = await measure(url, counter_ids, env["POS_SECRET_KEY"], probe, quick)
        except Exception:
            show_logs(logs)
            raise
        finally:
            await db.close()
            stop(list(processes.values()))
    return summary(shape, load_at_start, round_trip, levels, problems)


def in_own_database(split: bool, quick: bool) -> dict[str, Any]:
    """Run the bench in a database of its own, dropped at the end whatever happens."""
    dsn = asyncio.run(create_database("pos_bench"))
    try:
        # The shoppers share the two cores with what they measure: uvloop, like the services.
        return uvloop.run(bench(dsn, split, quick))
    finally:
        asyncio.run(drop_database(dsn))
        log(f"dropped {dsn.rsplit('/', 1)[1]}")


def main() -> None:
    """Run the bench, print its JSON line; exit 1 when it had errors, 130 when interrupted."""
    quick = os.environ.get("POS_BENCH_QUICK") == "1"
    split = os.environ.get("POS_BENCH_SHAPE", "split") != "embedded"
    signal.signal(signal.SIGTERM, interrupt)
    try:
        result = in_own_database(split, quick)
    except KeyboardInterrupt:
        log("interrupted: services stopped, database dropped")
        sys.exit(130)
    if result["errors"]:
        log(f"!! THIS RUN HAD {result['errors']} ERRORS: its figures are not trustworthy")
    print(json.dumps(result))
    sys.exit(1 if result["errors"] else 0)


if __name__ == "__main__":
    main()
