"""The print queue over real 127.0.0.1 sockets to a virtual printer, on SQLite and PostgreSQL.

Sales are made and paid through the orders service, whose `order_paid` event the printing
handler turns into the receipt job.
"""

from __future__ import annotations

import errno
import os
import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import pytest

from pos.catalog.tables import Product
from pos.db import write_transaction
from pos.errors import Conflict, InvalidInput
from pos.layouts import apply_layout
from pos.orders import service as orders
from pos.orders.checkout import create_kiosk_order
from pos.orders.schemas import LineIn, OrderIn
from pos.printing import job_actions, queue
from pos.printing.job_actions import retry_job
from pos.printing.jobs import ClaimedJob, claim_due, finish
from pos.printing.queue import STATUS_REWRITE, PrintSender
from pos.printing.service import on_order_refunded
from pos.printing.tables import PrinterState, PrintJob
from pos.settings import Settings
from pos.staff.actors import DeviceActor
from pos.stores.schemas import PrinterIn, StoreLayout
from pos.stores.tables import Counter, Device, Printer, Store
from printers import (
    PrintedReceipt,
    SendInterrupted,
    VirtualPrinter,
    decode,
    display_width,
    format_fen,
    format_kg,
    send,
)
from printers.decoder import RasterImage
from printers.layout import REPRINT_BANNER
from tests.helpers.clock import Clock
from tests.helpers.staff import add_device, add_printer, add_store
from tests.integration.printing.conftest import (
    Counter80,
    paid_event,
    paid_sale,
    refunded_event,
    wait_for_receipts,
)

pytestmark = pytest.mark.anyio

SOON = timedelta(seconds=1)


def later() -> datetime:
    """A moment after every short retry or re-check delay of the test settings."""
    return datetime.now(UTC) + SOON


async def job_states() -> list[str]:
    return [row["state"] for row in await PrintJob.select(PrintJob.state).order_by(PrintJob.id)]


def value(rows: tuple[str, ...], label: str) -> str:
    """What a printed row starting with `label` shows after it."""
    return next(row for row in rows if row.startswith(label)).removeprefix(label).strip()


def order_number(receipt: PrintedReceipt) -> str:
    line = next(text for text in receipt.decoded.text_lines if text.startswith("单号"))
    return line.split()[-1]


async def test_paid_order_prints_exactly_as_sold(
    request: pytest.FixtureRequest,
    counter: Counter80,
    sender: PrintSender,
    virtual: VirtualPrinter,
    settings: Settings,
) -> None:
    sold = await paid_sale(counter)
    assert await sender.deliver_due() == ["printed"]
    (receipt,) = await wait_for_receipts(virtual, 1)
    order = await orders.get_order(sold.id)
    text = "\n".join(receipt.decoded.text_lines)
    assert "测试门店" in text
    assert order.number == order_number(receipt)
    for line in order.lines:
        assert line.name_zh in text
        assert format_fen(line.amount_fen) in text
        assert format_fen(line.unit_price_fen) in text
    assert f"{format_kg(1085)}kg" in text
    certified = [line for line in order.lines if line.certified]
    assert len(certified) == 2
    for line in certified:
        assert f"【认证扶贫产品】证书号 {line.certificate_no}" in text
    assert text.count("【认证扶贫产品】") == 2
    total = format_fen(order.total_fen)
    assert any(row.startswith("合计") and row.endswith(f" {total}") for row in text.splitlines())
    assert "微信支付" in text
    assert f"42000{sold.id:023d}" in text
    url = f"http://pos.example.cn/r/{sold.id}?token={sold.access_token}"
    assert receipt.decoded.qr_payloads == (url,)
    assert receipt.decoded.cuts == 1
    assert "重印" not in text
    await orders.check_access(sold.id, url.rpartition("token=")[2])
    _keep_artifact(request, receipt)


def _keep_artifact(request: pytest.FixtureRequest, receipt: PrintedReceipt) -> None:
    artifacts = request.config.rootpath / "test-artifacts" / "receipts"
    artifacts.mkdir(parents=True, exist_ok=True)
    name = request.node.name.replace("[", "_").rstrip("]")
    for path in receipt.files:
        shutil.copyfile(path, artifacts / f"{name}{path.suffix}")
    assert (artifacts / f"{name}.png").stat().st_size > 10_000


async def test_replayed_event_queues_one_receipt(counter: Counter80) -> None:
    sold = await paid_sale(counter)
    event = await paid_event(sold.id)
    await counter.handler(event)
    await counter.handler(replace(event, attempts=2))
    assert await PrintJob.count() == 1


async def test_partial_refund_prints_one_slip_even_when_its_event_runs_twice(
    counter: Counter80, sender: PrintSender, virtual: VirtualPrinter
) -> None:
    sold = await paid_sale(counter)
    noodles = counter.products[0]
    await orders.record_refund(sold.id, amount_fen=1250, restock={noodles: 1}, actor="staff:1")
    event = await refunded_event(sold.id)
    await on_order_refunded(event)
    await on_order_refunded(replace(event, attempts=2))
    kinds = await PrintJob.select(PrintJob.kind).order_by(PrintJob.id)
    assert [row["kind"] for row in kinds] == ["receipt", "refund"]
    assert await sender.deliver_due() == ["printed"]
    assert await sender.deliver_due() == ["printed"]
    slip = (await wait_for_receipts(virtual, 2))[1]
    rows = slip.decoded.text_lines
    assert rows[0] == "退款凭证"
    assert "测试门店" in rows
    zone = await Store.select(Store.time_zone).where(Store.id == sold.store_id).first()
    assert zone is not None
    refunded_at = datetime.fromisoformat(event.payload["refunded_at"])
    local = refunded_at.astimezone(ZoneInfo(zone["time_zone"]))
    assert value(rows, "退款时间") == local.strftime("%Y-%m-%d %H:%M:%S")
    assert value(rows, "单号") == sold.number
    assert value(rows, "本次退款") == format_fen(1250)
    assert value(rows, "累计退款") == format_fen(1250)
    assert value(rows, "实付余额") == format_fen(sold.total_fen - 1250)
    assert value(rows, "退款方式") == "原路退回 微信支付"
    assert value(rows, "利辛蒲公英面条 500g") == "1"
    assert slip.decoded.cuts == 1


async def test_refund_slip_shows_weighed_goods_back_in_kg(
    counter: Counter80, sender: PrintSender, virtual: VirtualPrinter
) -> None:
    sold = await paid_sale(counter, plums_g=1085)
    plums = counter.products[1]
    (plums_line,) = [line for line in sold.lines if line.product_id == plums]
    await orders.record_refund(
        sold.id, amount_fen=plums_line.total_fen, restock={plums: 1085}, actor="staff:1"
    )
    await on_order_refunded(await refunded_event(sold.id))
    assert await sender.deliver_due() == ["printed"]
    assert await sender.deliver_due() == ["printed"]
    slip = (await wait_for_receipts(virtual, 2))[1]
    assert value(slip.decoded.text_lines, "南部脆红李") == f"{format_kg(1085)}kg"


async def test_refund_slip_names_goods_paid_back_that_do_not_go_back_on_the_shelf(
    counter: Counter80, sender: PrintSender, virtual: VirtualPrinter
) -> None:
    sold = await paid_sale(counter, plums_g=1085)
    plums = counter.products[1]
    (plums_line,) = [line for line in sold.lines if line.product_id == plums]
    # Wilted plums: paid back, thrown away.
    await orders.record_refund(
        sold.id,
        amount_fen=plums_line.total_fen,
        restock=None,
        returned={plums: 1085},
        actor="staff:1",
    )
    await on_order_refunded(await refunded_event(sold.id))
    assert await sender.deliver_due() == ["printed"]
    assert await sender.deliver_due() == ["printed"]
    slip = (await wait_for_receipts(virtual, 2))[1]
    assert value(slip.decoded.text_lines, "南部脆红李") == f"{format_kg(1085)}kg"


async def test_refund_slip_prints_on_the_printer_staff_chose(
    counter: Counter80, sender: PrintSender, virtual: VirtualPrinter
) -> None:
    sold = await paid_sale(counter)
    desk = await add_printer(sold.store_id, f"tcp://127.0.0.1:{virtual.port}", name="服务台")
    await Counter.update({Counter.printer: None}).where(Counter.id == counter.shop.counter_id)
    await orders.record_refund(
        sold.id, amount_fen=1250, restock=None, actor="staff:1", slip_printer_id=desk
    )
    await on_order_refunded(await refunded_event(sold.id))
    slip = await PrintJob.select(PrintJob.printer).where(PrintJob.kind == "refund").first()
    assert slip == {"printer": desk}
    # The sale's receipt on the counter's printer, the slip on the desk's: one round sends both.
    assert await sender.deliver_due() == ["printed", "printed"]
    printed = [receipt.decoded.text_lines for receipt in await wait_for_receipts(virtual, 2)]
    (rows,) = [rows for rows in printed if rows[0] == "退款凭证"]
    assert value(rows, "单号") == sold.number


async def test_refund_slip_printer_of_another_store_falls_back_to_the_sale_s(
    counter: Counter80, virtual: VirtualPrinter
) -> None:
    sold = await paid_sale(counter)
    foreign = await add_printer(await add_store(), f"tcp://127.0.0.1:{virtual.port}")
    await orders.record_refund(sold.id, amount_fen=1250, restock=None, slip_printer_id=foreign)
    await on_order_refunded(await refunded_event(sold.id))
    slip = await PrintJob.select(PrintJob.printer).where(PrintJob.kind == "refund").first()
    assert slip == {"printer": counter.printer_id}


async def test_refund_without_printer_prints_nothing(counter: Counter80) -> None:
    await Counter.update({Counter.printer: None}).where(Counter.id == counter.shop.counter_id)
    sold = await paid_sale(counter)  # no receipt either
    await orders.record_refund(sold.id, amount_fen=sold.total_fen, restock=None)
    await on_order_refunded(await refunded_event(sold.id))
    assert await PrintJob.count() == 0


@pytest.mark.parametrize("now", ["another printer", "no printer"])
async def test_a_refund_slip_prints_where_the_sales_receipt_printed(
    counter: Counter80, now: str
) -> None:
    sold = await paid_sale(counter)
    other = await add_printer(counter.shop.store_id, "tcp://127.0.0.1:9", "新打印机")
    printer = other if now == "another printer" else None  # a new layout, a swapped printer
    await Counter.update({Counter.printer: printer}).where(Counter.id == counter.shop.counter_id)
    await orders.record_refund(sold.id, amount_fen=1250, restock=None, actor="staff:1")
    await on_order_refunded(await refunded_event(sold.id))
    slip = await PrintJob.select(PrintJob.printer).where(PrintJob.kind == "refund").first()
    assert slip == {"printer": counter.printer_id}


async def test_paper_out_waits_then_prints_in_order_when_paper_is_back(
    counter: Counter80, sender: PrintSender, virtual: VirtualPrinter
) -> None:
    virtual.set_paper(True)
    first, second = await paid_sale(counter), await paid_sale(counter, plums_g=500)
    assert await sender.deliver_due() == ["waiting"]
    assert await job_states() == ["waiting", "queued"]
    assert await sender.deliver_due(later()) == ["waiting"]
    state = await PrinterState.select().where(PrinterState.printer == counter.printer_id).first()
    assert state is not None
    assert state["paper_out"] is True
    assert state["online"] is False
    virtual.set_paper(False)
    assert await sender.deliver_due(later()) == ["printed"]
    assert await sender.deliver_due(later()) == ["printed"]
    receipts = await wait_for_receipts(virtual, 2)
    assert [order_number(receipt) for receipt in receipts] == [first.number, second.number]
    assert not any(REPRINT_BANNER in receipt.decoded.text_lines for receipt in receipts)
    assert virtual.dropped_jobs == 0
    assert await job_states() == ["printed", "printed"]


async def test_restart_with_jobs_pending_prints_each_once(
    counter: Counter80, settings: Settings, virtual: VirtualPrinter
) -> None:
    sales = [await paid_sale(counter, plums_g=100 + n) for n in range(4)]
    first_stop = anyio.Event()

    class StoppedWhileSending(PrintSender):
        async def deliver(self, job: ClaimedJob) -> str:
            first_stop.set()
            return await super().deliver(job)

    await StoppedWhileSending(settings).run(first_stop, 0.02)
    assert await job_states() == ["printed", "queued", "queued", "queued"]
    second_stop = anyio.Event()
    async with anyio.create_task_group() as group:
        group.start_soon(PrintSender(settings).run, second_stop, 0.02)
        await wait_for_receipts(virtual, len(sales))
        await anyio.sleep(0.3)
        second_stop.set()
    numbers = [order_number(receipt) for receipt in virtual.receipts]
    assert numbers == [sale.number for sale in sales]
    assert await job_states() == ["printed"] * len(sales)


async def test_a_crashed_senders_job_prints_after_its_lease(
    counter: Counter80, sender: PrintSender, virtual: VirtualPrinter
) -> None:
    sold = await paid_sale(counter)
    (claimed,) = await claim_due(timedelta(seconds=30))
    assert await sender.deliver_due() == []  # the dead sender's lease still holds
    assert await sender.deliver_due(datetime.now(UTC) + timedelta(seconds=31)) == ["printed"]
    (receipt,) = await wait_for_receipts(virtual, 1)
    assert order_number(receipt) == sold.number
    row = await PrintJob.select(PrintJob.claimed_by).where(PrintJob.id == claimed.id).first()
    assert row is not None
    assert row["claimed_by"] != claimed.claim


async def test_a_receipt_sent_again_after_its_sender_crashed_is_marked_reprint(
    counter: Counter80, sender: PrintSender, virtual: VirtualPrinter
) -> None:
    await paid_sale(counter)
    await claim_due(timedelta(seconds=30))  # a sender that dies mid-send: it may be on paper
    assert await sender.deliver_due(datetime.now(UTC) + timedelta(seconds=31)) == ["printed"]
    (receipt,) = await wait_for_receipts(virtual, 1)
    assert receipt.decoded.text_lines[0] == REPRINT_BANNER


async def test_a_refund_slip_sent_again_after_its_sender_crashed_is_marked_reprint(
    counter: Counter80, sender: PrintSender, virtual: VirtualPrinter
) -> None:
    sold = await paid_sale(counter)
    assert await sender.deliver_due() == ["printed"]
    await orders.record_refund(sold.id, amount_fen=1250, restock=None, actor="staff:1")
    await on_order_refunded(await refunded_event(sold.id))
    await claim_due(timedelta(seconds=30))
    assert await sender.deliver_due(datetime.now(UTC) + timedelta(seconds=31)) == ["printed"]
    receipt, slip = await wait_for_receipts(virtual, 2)
    assert REPRINT_BANNER not in receipt.decoded.text_lines
    assert slip.decoded.text_lines[:2] == (REPRINT_BANNER, "退款凭证")


async def test_a_receipt_sent_again_after_a_send_cut_short_is_marked_reprint(
    counter: Counter80,
    sender: PrintSender,
    virtual: VirtualPrinter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await paid_sale(counter)
    sends = 0

    def cut_short_once(url: str, data: bytes, *, timeout: float) -> None:
        nonlocal sends
        sends += 1
        if sends == 1:
            raise SendInterrupted(f"{url}: connection reset while writing")
        send(url, data, timeout=timeout)

    monkeypatch.setattr(queue, "send", cut_short_once)
    assert await sender.deliver_due() == ["queued"]
    assert await sender.deliver_due(later()) == ["printed"]
    (receipt,) = await wait_for_receipts(virtual, 1)
    assert receipt.decoded.text_lines[0] == REPRINT_BANNER


async def test_an_outcome_is_recorded_only_while_its_claim_holds(counter: Counter80) -> None:
    await paid_sale(counter)
    (lost,) = await claim_due(timedelta(seconds=30))
    (held,) = await claim_due(timedelta(seconds=30), datetime.now(UTC) + timedelta(seconds=31))
    printed = {PrintJob.state: "printed", PrintJob.printed_at: datetime.now(UTC)}
    assert await finish(lost, printed) is False
    assert await job_states() == ["sending"]
    assert await finish(held, printed) is True
    row = await PrintJob.select(PrintJob.state, PrintJob.lease_until).first()
    assert row == {"state": "printed", "lease_until": None}
    assert await finish(held, printed) is False  # finished already


async def test_only_each_printers_oldest_unfinished_job_is_claimed(counter: Counter80) -> None:
    other = await add_printer(counter.shop.store_id, "tcp://127.0.0.1:9", "标签机")
    for _ in range(5):
        await paid_sale(counter)
    rows = await PrintJob.select(PrintJob.id).order_by(PrintJob.id)
    printed, waiting, _behind_waiting, oldest_of_other, newest_of_other = [r["id"] for r in rows]
    await PrintJob.update({PrintJob.printer: other}).where(
        PrintJob.id.is_in([oldest_of_other, newest_of_other])
    )
    await PrintJob.update({PrintJob.state: "printed"}).where(PrintJob.id == printed)
    await PrintJob.update(
        {PrintJob.state: "waiting", PrintJob.next_attempt_at: later() + timedelta(minutes=5)}
    ).where(PrintJob.id == waiting)
    claimed = await claim_due(timedelta(seconds=30))
    assert [job.id for job in claimed] == [oldest_of_other]  # not `_behind_waiting`, nor newer


async def test_a_retried_job_waits_while_the_printer_sends_another(counter: Counter80) -> None:
    await paid_sale(counter)
    await paid_sale(counter)
    first, second = [row["id"] for row in await PrintJob.select(PrintJob.id).order_by(PrintJob.id)]
    await PrintJob.update({PrintJob.state: "failed", PrintJob.attempts: 3}).where(
        PrintJob.id == first
    )
    (sending,) = await claim_due(timedelta(seconds=30))
    assert sending.id == second
    await retry_job(counter.shop.store_id, first, staff_user_id=1)  # the head again
    assert await claim_due(timedelta(seconds=30)) == []  # one job at a time per printer
    assert await finish(sending, {PrintJob.state: "printed", PrintJob.printed_at: later()})
    assert [job.id for job in await claim_due(timedelta(seconds=30))] == [first]


async def test_senders_claiming_at_once_take_each_head_once(counter: Counter80) -> None:
    store_id = counter.shop.store_id
    printers = [await add_printer(store_id, "tcp://127.0.0.1:9", f"打印机{n}") for n in range(6)]
    for printer_id in printers:
        await paid_sale(counter)
        newest = await PrintJob.select(PrintJob.id).order_by(PrintJob.id, ascending=False).first()
        assert newest is not None
        await PrintJob.update({PrintJob.printer: printer_id}).where(PrintJob.id == newest["id"])
    claims: list[list[ClaimedJob]] = []

    async def claim() -> None:
        claims.append(await claim_due(timedelta(seconds=30)))

    async with anyio.create_task_group() as senders:
        for _ in range(4):
            senders.start_soon(claim)
    claimed = sorted(job.id for jobs in claims for job in jobs)
    assert claimed == sorted(row["id"] for row in await PrintJob.select(PrintJob.id))
    assert {job.printer_id for jobs in claims for job in jobs} == set(printers)


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_retry_between_two_senders_claims_still_sends_one_job_per_printer(
    counter: Counter80,
) -> None:
    await paid_sale(counter)
    await paid_sale(counter)
    first, _second = [row["id"] for row in await PrintJob.select(PrintJob.id).order_by(PrintJob.id)]
    await PrintJob.update({PrintJob.state: "failed", PrintJob.attempts: 3}).where(
        PrintJob.id == first
    )
    in_flight, commit = anyio.Event(), anyio.Event()
    claims: list[ClaimedJob] = []

    async def second_sender() -> None:
        # Its claim stays uncommitted until `commit`, and the retry commits with it: the first
        # sender reads the heads before the retry and claims while this claim is in flight.
        async with write_transaction():
            await retry_job(counter.shop.store_id, first, staff_user_id=1)
            claims.extend(await claim_due(timedelta(seconds=30)))
            in_flight.set()
            await commit.wait()

    async with anyio.create_task_group() as senders:
        senders.start_soon(second_sender)
        await in_flight.wait()
        claims.extend(await claim_due(timedelta(seconds=30)))  # the first sender
        commit.set()
    assert [job.id for job in claims] == [first]
    assert await job_states() == ["sending", "queued"]  # the later job waits its turn


async def test_unreachable_printer_is_retried_then_fails(
    counter: Counter80, sender: PrintSender, closed_port: int
) -> None:
    await Printer.update({Printer.connection_url: f"tcp://127.0.0.1:{closed_port}"}).where(
        Printer.id == counter.printer_id
    )
    await paid_sale(counter)
    outcomes = [state for _ in range(4) for state in await sender.deliver_due(later())]
    assert outcomes == ["queued", "queued", "failed"]
    job = await PrintJob.select().first()
    assert job is not None
    assert job["attempts"] == 3
    assert job["last_error"].startswith("printer_unreachable")


async def test_a_device_that_is_no_printer_is_retried_then_fails(
    counter: Counter80, sender: PrintSender, banner_port: int
) -> None:
    await Printer.update({Printer.connection_url: f"tcp://127.0.0.1:{banner_port}"}).where(
        Printer.id == counter.printer_id
    )
    await paid_sale(counter)
    # Not "waiting" for staff to load paper for ever: the tablet offers its retry once it fails.
    outcomes = [state for _ in range(4) for state in await sender.deliver_due(later())]
    assert outcomes == ["queued", "queued", "failed"]
    job = await PrintJob.select().first()
    assert job is not None
    assert job["attempts"] == 3
    assert job["last_error"] == "printer_unreachable: unexpected status reply 53 53 48"


async def test_a_receipt_prints_as_its_printers_url_options_say(
    counter: Counter80, sender: PrintSender, tmp_path: Path
) -> None:
    device = tmp_path / "lp0"  # a capture file standing for /dev/usb/lp0
    device.touch()
    await Printer.update({Printer.connection_url: f"file://{device}?cut=none&qr=image"}).where(
        Printer.id == counter.printer_id
    )
    await paid_sale(counter)
    assert await sender.deliver_due() == ["printed"]
    data = device.read_bytes()
    assert b"\x1dV" not in data  # GS V: a printer without a cutter
    assert b"\x1d(k" not in data  # GS ( k: firmware without the native QR command
    assert [type(e) for e in decode(data).elements].count(RasterImage) == 1


async def test_a_printer_the_service_may_not_open_fails_at_once_naming_the_fix(
    counter: Counter80, sender: PrintSender, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    device = tmp_path / "lp0"
    device.touch()
    await Printer.update({Printer.connection_url: f"file://{device}"}).where(
        Printer.id == counter.printer_id
    )
    real_open = os.open

    def denied(path: str, flags: int, *args: int) -> int:  # as for a user outside group lp
        if path == str(device):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", denied)
    await paid_sale(counter)
    assert await sender.deliver_due() == ["failed"]  # no retry gives the service the right
    job = await PrintJob.select().first()
    assert job is not None
    assert job["attempts"] == 1
    assert job["last_error"].startswith(f"printer_config: {device}: Permission denied: add the")
    assert "lp group" in job["last_error"]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "tcp://192.0.2.10:9100?cut=sometimes",
            "cut='sometimes', use cut=full or cut=partial or cut=none",
        ),
        ("tcp://192.0.2.10:9100?qrcode=image", r"unknown option\(s\) qrcode .* cut, qr"),
        ("tcp://192.0.2.10:9100?cut=none&cut=full", "cut is given more than once"),
    ],
)
async def test_a_bad_printer_option_is_refused_when_the_layout_is_applied(
    db: str, url: str, message: str
) -> None:
    layout = StoreLayout(
        code="S9",
        name_zh="测试门店",
        kind="subway_counter",
        printers=[PrinterIn(name="desk", connection_url=url)],
    )
    with pytest.raises(InvalidInput, match=f"store S9, printer desk: .*{message}"):
        await apply_layout(layout, changed_by="t")
    assert await Store.count().where(Store.code == "S9") == 0


async def test_order_without_printer_prints_nothing(
    counter: Counter80, sender: PrintSender
) -> None:
    await Counter.update({Counter.printer: None}).where(Counter.id == counter.shop.counter_id)
    await paid_sale(counter)
    assert await PrintJob.count() == 0
    assert await sender.deliver_due() == []


async def test_status_is_read_for_every_printer(
    counter: Counter80, sender: PrintSender, virtual: VirtualPrinter, closed_port: int
) -> None:
    other = await add_printer(counter.shop.store_id, f"tcp://127.0.0.1:{closed_port}")
    virtual.set_cover_open(True)
    await sender.refresh_statuses()
    rows = {row["printer"]: row for row in await PrinterState.select()}
    assert rows[counter.printer_id]["cover_open"] is True
    assert rows[other]["online"] is False
    assert "refused" in rows[other]["error"]


async def test_a_printer_whose_host_cannot_be_looked_up_stops_no_other_status_read(
    counter: Counter80, sender: PrintSender, virtual: VirtualPrinter
) -> None:
    # Stored before layouts refused such hosts; the idna codec raises UnicodeError for it.
    typo = await add_printer(counter.shop.store_id, "tcp://printer..local:9100", name="typo")
    virtual.set_cover_open(True)
    await sender.refresh_statuses()
    rows = {row["printer"]: row for row in await PrinterState.select()}
    assert rows[counter.printer_id]["cover_open"] is True
    assert rows[typo]["online"] is False
    assert "printer..local" in rows[typo]["error"]


async def test_a_printer_driver_failing_its_own_way_stops_no_other_status_read(
    counter: Counter80,
    sender: PrintSender,
    virtual: VirtualPrinter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    odd = await add_printer(counter.shop.store_id, "usb://0x04b8:0x0202", name="usb")
    read = queue.query_status

    def driver_failing(url: str, **kwargs: Any) -> Any:
        if url.startswith("usb://"):
            raise ValueError("No backend available")  # pyusb's NoBackendError, say
        return read(url, **kwargs)

    monkeypatch.setattr(queue, "query_status", driver_failing)
    virtual.set_cover_open(True)
    await sender.refresh_statuses()
    rows = {row["printer"]: row for row in await PrinterState.select()}
    assert rows[counter.printer_id]["cover_open"] is True
    assert (rows[odd]["online"], rows[odd]["error"]) == (False, "ValueError: No backend available")


async def test_a_retry_that_loses_to_a_cancel_is_refused(
    counter: Counter80, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_id = counter.shop.store_id
    await paid_sale(counter)
    job_id = (await PrintJob.select(PrintJob.id).first() or {})["id"]
    await PrintJob.update({PrintJob.state: "failed"}).where(PrintJob.id == job_id)
    read = job_actions.job_out

    async def read_then_cancelled_at_another_tablet(*args: Any, **kwargs: Any) -> Any:
        job = await read(*args, **kwargs)
        monkeypatch.setattr(job_actions, "job_out", read)
        await job_actions.cancel_job(store_id, job_id, staff_user_id=2)
        return job

    monkeypatch.setattr(job_actions, "job_out", read_then_cancelled_at_another_tablet)
    with pytest.raises(Conflict, match="is cancelled"):
        await retry_job(store_id, job_id, staff_user_id=1)
    assert (await PrintJob.select(PrintJob.state).first() or {})["state"] == "cancelled"


async def test_a_full_width_space_in_a_name_keeps_the_amounts_in_their_column(
    counter: Counter80, sender: PrintSender, virtual: VirtualPrinter
) -> None:
    noodles = counter.products[0]
    await Product.update({Product.name_zh: "利辛\u3000蒲公英面条"}).where(Product.id == noodles)
    await paid_sale(counter)
    assert await sender.deliver_due() == ["printed"]
    (receipt,) = await wait_for_receipts(virtual, 1)
    rows = receipt.decoded.text_lines
    header = next(row for row in rows if row.startswith("商品"))
    item = next(row for row in rows if "蒲公英面条" in row)
    assert display_width(item) == display_width(header) == 48


async def test_a_printed_receipt_keeps_the_paper_near_end_warning(
    counter: Counter80, sender: PrintSender, virtual: VirtualPrinter
) -> None:
    virtual.set_paper_near_end(True)
    await sender.refresh_statuses()
    await paid_sale(counter)
    assert await sender.deliver_due() == ["printed"]
    state = await PrinterState.select(PrinterState.online, PrinterState.paper_near_end).first()
    assert state == {"online": True, "paper_near_end": True}  # staff still see the warning
    virtual.set_paper(True)
    await paid_sale(counter)
    assert await sender.deliver_due(later()) == ["waiting"]
    virtual.set_paper(False)  # a new roll, full
    assert await sender.deliver_due(later()) == ["printed"]
    state = await PrinterState.select(PrinterState.online, PrinterState.paper_near_end).first()
    assert state == {"online": True, "paper_near_end": False}


async def test_kiosk_receipt_prints_on_the_kiosks_own_printer(
    counter: Counter80, sender: PrintSender, virtual: VirtualPrinter, settings: Settings
) -> None:
    store_id = counter.shop.store_id
    kiosk_printer = await add_printer(store_id, f"tcp://127.0.0.1:{virtual.port}", "自助机")
    device_id = await add_device(store_id, "kiosk")
    await Device.update({Device.printer: kiosk_printer, Device.name: "3号自助收银机"}).where(
        Device.id == device_id
    )
    kiosk = DeviceActor(device_id=device_id, store_id=store_id, counter_id=None, kind="kiosk")
    lines = [LineIn(product_id=counter.products[0], quantity=1)]
    secret = settings.secret_key.get_secret_value()
    created = await create_kiosk_order(
        kiosk, OrderIn(lines=lines), idempotency_key="kiosk-1", secret=secret
    )
    order = created.order
    await orders.mark_paid(
        order.id,
        amount_fen=order.total_fen,
        method="alipay_code",
        reference="2024100122001",
        payer_hash=None,
        paid_at=datetime.now(UTC),
    )
    await counter.handler(await paid_event(order.id))
    assert await sender.deliver_due() == ["printed"]
    (receipt,) = await wait_for_receipts(virtual, 1)
    assert "3号自助收银机" in receipt.decoded.text_lines
    assert "支付宝" in "\n".join(receipt.decoded.text_lines)
    job = await PrintJob.select(PrintJob.printer).first()
    assert job == {"printer": kiosk_printer}


async def checked_at(printer_id: int) -> datetime:
    """When the printer's saved status was last written."""
    query = PrinterState.select(PrinterState.checked_at)
    row = await query.where(PrinterState.printer == printer_id).first()
    assert row is not None
    moment: datetime = row["checked_at"]
    return moment


async def test_a_busy_printers_unchanged_status_is_saved_again_after_30_s_only(
    counter: Counter80, settings: Settings, virtual: VirtualPrinter
) -> None:
    await paid_sale(counter)
    await paid_sale(counter)
    clock = Clock()
    sender = PrintSender(settings, clock)
    assert await sender.deliver_due(clock.now) == ["printed"]
    first_saved = await checked_at(counter.printer_id)
    assert first_saved == clock.now
    clock.advance(10)
    assert await sender.deliver_due(clock.now) == ["printed"]
    assert await checked_at(counter.printer_id) == first_saved  # the same status: not written
    virtual.set_paper(True)
    await paid_sale(counter)
    paper_out_at = clock.advance(5)
    assert await sender.deliver_due(clock.now) == ["waiting"]
    assert await checked_at(counter.printer_id) == paper_out_at  # changed: written at once
    clock.advance(5)
    assert await sender.deliver_due(clock.now) == ["waiting"]
    assert await checked_at(counter.printer_id) == paper_out_at
    clock.now = paper_out_at + STATUS_REWRITE
    assert await sender.deliver_due(clock.now) == ["waiting"]
    assert await checked_at(counter.printer_id) == clock.now  # 30 s on: written again
    state = await PrinterState.select(PrinterState.paper_out).first()
    assert state == {"paper_out": True}
