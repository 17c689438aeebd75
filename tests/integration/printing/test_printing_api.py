"""The staff printing API: printers with status and queue, reprints, retrying a failed job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from pos.orders import service as orders
from pos.printing.queue import PrintSender
from pos.printing.service import MAX_LISTED_JOBS, on_order_refunded
from pos.printing.tables import PrintJob
from pos.stores.tables import Counter, Printer
from printers import VirtualPrinter
from tests.helpers.staff import add_printer, add_store, login_as
from tests.integration.printing.conftest import (
    Counter80,
    paid_event,
    paid_sale,
    refunded_event,
    wait_for_receipts,
)

pytestmark = pytest.mark.anyio


def later() -> datetime:
    return datetime.now(UTC) + timedelta(seconds=1)


async def test_staff_see_why_a_job_waits(
    client: httpx.AsyncClient, counter: Counter80, sender: PrintSender, virtual: VirtualPrinter
) -> None:
    store_id = counter.shop.store_id
    virtual.set_paper(True)
    sold = await paid_sale(counter)
    await sender.deliver_due()
    await login_as(client, "restocker", store_id)
    response = await client.get(f"/api/stores/{store_id}/printers")
    assert response.status_code == 200, response.text
    (printer,) = response.json()
    assert printer["id"] == counter.printer_id
    assert printer["status"]["paper_out"] is True
    assert printer["status"]["ready"] is False
    assert printer["status"]["reason"] == "paper out"
    (job,) = printer["jobs"]
    assert (job["order_id"], job["kind"], job["state"]) == (sold.id, "receipt", "waiting")
    assert job["last_error"] == "paper out"
    virtual.set_paper(False)
    assert await sender.deliver_due(later()) == ["printed"]
    (printer,) = (await client.get(f"/api/stores/{store_id}/printers")).json()
    assert printer["jobs"] == []
    assert printer["status"]["ready"] is True


async def test_each_printers_queue_is_listed_however_long_another_s_is(
    client: httpx.AsyncClient, counter: Counter80
) -> None:
    """A mistyped URL fails every receipt of its printer, and failed jobs stay until retried."""
    store_id = counter.shop.store_id
    sold = await paid_sale(counter)
    desk = await add_printer(store_id, "tcp://127.0.0.1:1", name="服务台")
    failed = [
        PrintJob(
            printer=counter.printer_id,
            order=sold.id,
            kind="receipt",
            state="failed",
            next_attempt_at=datetime.now(UTC),
        )
        for _ in range(MAX_LISTED_JOBS)
    ]
    reprint = PrintJob(
        printer=desk, order=sold.id, kind="reprint", state="queued", next_attempt_at=later()
    )
    await PrintJob.insert(*failed, reprint)
    await login_as(client, "manager", store_id)
    response = await client.get(f"/api/stores/{store_id}/printers")
    assert response.status_code == 200, response.text
    jobs = {printer["id"]: printer["jobs"] for printer in response.json()}
    assert len(jobs[counter.printer_id]) == MAX_LISTED_JOBS
    assert [job["kind"] for job in jobs[desk]] == ["reprint"]


async def test_reprint_prints_again_marked_once_per_key(
    client: httpx.AsyncClient, counter: Counter80, sender: PrintSender, virtual: VirtualPrinter
) -> None:
    store_id = counter.shop.store_id
    sold = await paid_sale(counter)
    await sender.deliver_due()
    await login_as(client, "cashier", store_id)
    url = f"/api/stores/{store_id}/orders/{sold.id}/reprint"
    first = await client.post(url, headers={"Idempotency-Key": "tap-1"})
    again = await client.post(url, headers={"Idempotency-Key": "tap-1"})
    assert first.status_code == 201, first.text
    assert again.json()["id"] == first.json()["id"]
    assert first.json()["kind"] == "reprint"
    assert first.json()["created_by"].startswith("staff:")
    assert await sender.deliver_due() == ["printed"]
    original, reprinted = await wait_for_receipts(virtual, 2)
    assert reprinted.decoded.text_lines[0] == "重印 REPRINT"
    assert "重印 REPRINT" not in original.decoded.text_lines
    assert reprinted.decoded.qr_payloads == original.decoded.qr_payloads
    assert [line for line in reprinted.decoded.text_lines if "REPRINT" not in line] == list(
        original.decoded.text_lines
    )


async def test_a_reprint_key_used_for_another_order_is_refused(
    client: httpx.AsyncClient, counter: Counter80
) -> None:
    store_id = counter.shop.store_id
    first, second = await paid_sale(counter), await paid_sale(counter, plums_g=500)
    await login_as(client, "cashier", store_id)
    key = {"Idempotency-Key": "tap-1"}
    one = await client.post(f"/api/stores/{store_id}/orders/{first.id}/reprint", headers=key)
    two = await client.post(f"/api/stores/{store_id}/orders/{second.id}/reprint", headers=key)
    assert one.status_code == 201, one.text
    assert two.status_code == 409, two.text
    assert two.json()["code"] == "idempotency_key_reused"
    assert await PrintJob.count().where(PrintJob.kind == "reprint") == 1


async def test_reprint_needs_an_order_of_this_store(
    client: httpx.AsyncClient, counter: Counter80
) -> None:
    sold = await paid_sale(counter)
    other_store = await add_store()
    await login_as(client, "manager", None)
    response = await client.post(f"/api/stores/{other_store}/orders/{sold.id}/reprint")
    assert response.status_code == 404
    assert response.json()["code"] == "order_not_found"
    foreign_printer = Printer(store=other_store, name="p", connection_url="tcp://127.0.0.1:1")
    printer_id = (await Printer.insert(foreign_printer).returning(Printer.id))[0]["id"]
    response = await client.post(
        f"/api/stores/{counter.shop.store_id}/orders/{sold.id}/reprint",
        json={"printer_id": printer_id},
    )
    assert response.status_code == 422
    assert response.json()["code"] == "printer_not_in_store"


async def set_counter_printer(counter: Counter80, printer_id: int | None) -> None:
    await Counter.update({Counter.printer: printer_id}).where(Counter.id == counter.shop.counter_id)


async def test_a_sale_made_without_a_printer_gets_its_receipt_on_the_counter_s_printer_now(
    client: httpx.AsyncClient, counter: Counter80, sender: PrintSender, virtual: VirtualPrinter
) -> None:
    store_id = counter.shop.store_id
    await set_counter_printer(counter, None)
    sold = await paid_sale(counter)
    assert await PrintJob.count() == 0
    await set_counter_printer(counter, counter.printer_id)
    await login_as(client, "cashier", store_id)
    url = f"/api/stores/{store_id}/orders/{sold.id}/reprint"
    first = await client.post(url, headers={"Idempotency-Key": "tap-1"})
    again = await client.post(url, headers={"Idempotency-Key": "tap-1"})
    assert first.status_code == 201, first.text
    assert again.json()["id"] == first.json()["id"]
    assert (first.json()["kind"], first.json()["printer_id"]) == ("reprint", counter.printer_id)
    await counter.handler(await paid_event(sold.id))  # the receipt the sale would have printed
    assert await sender.deliver_due() == ["printed"]
    assert await sender.deliver_due() == ["printed"]
    reprinted, receipt = await wait_for_receipts(virtual, 2)
    assert reprinted.decoded.text_lines[0] == "重印 REPRINT"
    assert reprinted.decoded.qr_payloads == receipt.decoded.qr_payloads
    assert [line for line in reprinted.decoded.text_lines if "REPRINT" not in line] == list(
        receipt.decoded.text_lines
    )


async def test_a_sale_without_a_printer_prints_its_receipt_where_staff_say(
    client: httpx.AsyncClient, counter: Counter80, sender: PrintSender, virtual: VirtualPrinter
) -> None:
    store_id = counter.shop.store_id
    await set_counter_printer(counter, None)
    sold = await paid_sale(counter)
    foreign = await add_printer(await add_store(), f"tcp://127.0.0.1:{virtual.port}")
    await login_as(client, "cashier", store_id)
    url = f"/api/stores/{store_id}/orders/{sold.id}/reprint"
    nowhere = await client.post(url)
    assert (nowhere.status_code, nowhere.json()["code"]) == (422, "printer_required")
    elsewhere = await client.post(url, json={"printer_id": foreign})
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (422, "printer_not_in_store")
    assert (await client.post(url, json={"printer_id": True})).status_code == 400  # not printer 1
    chosen = await client.post(url, json={"printer_id": counter.printer_id})
    assert chosen.status_code == 201, chosen.text
    assert await sender.deliver_due() == ["printed"]
    (receipt,) = await wait_for_receipts(virtual, 1)
    assert receipt.decoded.text_lines[0] == "重印 REPRINT"
    assert any(sold.number in line for line in receipt.decoded.text_lines)


async def test_a_refund_slip_of_a_sale_without_a_printer_prints_where_staff_reprinted_it(
    client: httpx.AsyncClient, counter: Counter80, virtual: VirtualPrinter
) -> None:
    store_id = counter.shop.store_id
    await set_counter_printer(counter, None)
    sold = await paid_sale(counter)  # no receipt
    desk = await add_printer(store_id, f"tcp://127.0.0.1:{virtual.port}", name="服务台")
    await login_as(client, "cashier", store_id)
    printed = await client.post(
        f"/api/stores/{store_id}/orders/{sold.id}/reprint", json={"printer_id": desk}
    )
    assert printed.status_code == 201, printed.text
    await orders.record_refund(sold.id, amount_fen=1250, restock=None, actor="staff:1")
    await on_order_refunded(await refunded_event(sold.id))
    slip = await PrintJob.select(PrintJob.printer).where(PrintJob.kind == "refund").first()
    assert slip == {"printer": desk}


async def test_only_a_paid_order_gets_a_receipt(
    client: httpx.AsyncClient, counter: Counter80
) -> None:
    noodles, _, _ = counter.products
    unpaid = (await counter.shop.order({"product_id": noodles, "quantity": 1})).order
    await login_as(client, "cashier", counter.shop.store_id)
    response = await client.post(
        f"/api/stores/{counter.shop.store_id}/orders/{unpaid.id}/reprint",
        json={"printer_id": counter.printer_id},
    )
    assert (response.status_code, response.json()["code"]) == (409, "order_not_paid")
    assert await PrintJob.count() == 0


async def test_restocker_cannot_reprint(client: httpx.AsyncClient, counter: Counter80) -> None:
    sold = await paid_sale(counter)
    await login_as(client, "restocker", counter.shop.store_id)
    response = await client.post(f"/api/stores/{counter.shop.store_id}/orders/{sold.id}/reprint")
    assert response.status_code == 403


async def test_other_stores_staff_see_no_printers(
    client: httpx.AsyncClient, counter: Counter80
) -> None:
    await login_as(client, "manager", await add_store())
    response = await client.get(f"/api/stores/{counter.shop.store_id}/printers")
    assert response.status_code == 403
    assert response.json()["code"] == "other_store"


async def test_failed_job_is_retried_by_staff(
    client: httpx.AsyncClient,
    counter: Counter80,
    sender: PrintSender,
    virtual: VirtualPrinter,
    closed_port: int,
) -> None:
    store_id = counter.shop.store_id
    await Printer.update({Printer.connection_url: f"tcp://127.0.0.1:{closed_port}"}).where(
        Printer.id == counter.printer_id
    )
    sold = await paid_sale(counter)
    while "failed" not in await sender.deliver_due(later()):
        pass
    await login_as(client, "manager", store_id)
    (printer,) = (await client.get(f"/api/stores/{store_id}/printers")).json()
    (job,) = printer["jobs"]
    assert (job["state"], job["attempts"]) == ("failed", 3)
    assert printer["status"]["online"] is False
    await Printer.update({Printer.connection_url: f"tcp://127.0.0.1:{virtual.port}"}).where(
        Printer.id == counter.printer_id
    )
    retried = await client.post(f"/api/stores/{store_id}/print-jobs/{job['id']}/retry")
    assert retried.status_code == 200, retried.text
    assert (retried.json()["state"], retried.json()["attempts"]) == ("queued", 0)
    assert await sender.deliver_due() == ["printed"]
    (receipt,) = await wait_for_receipts(virtual, 1)
    assert any(sold.number in line for line in receipt.decoded.text_lines)
    again = await client.post(f"/api/stores/{store_id}/print-jobs/{job['id']}/retry")
    assert again.status_code == 409
    assert again.json()["code"] == "job_state"


async def test_a_retry_repeated_with_its_key_does_not_queue_the_job_again(
    client: httpx.AsyncClient, counter: Counter80, sender: PrintSender, closed_port: int
) -> None:
    store_id = counter.shop.store_id
    await Printer.update({Printer.connection_url: f"tcp://127.0.0.1:{closed_port}"}).where(
        Printer.id == counter.printer_id
    )
    await paid_sale(counter)
    (job,) = await PrintJob.select(PrintJob.id)
    await PrintJob.update({PrintJob.state: "failed"}).where(PrintJob.id == job["id"])
    await login_as(client, "cashier", store_id)
    url = f"/api/stores/{store_id}/print-jobs/{job['id']}/retry"
    key = {"Idempotency-Key": "retry-tap-0001"}
    first = await client.post(url, headers=key)
    assert (first.json()["state"], first.json()["attempts"]) == ("queued", 0)
    while "failed" not in await sender.deliver_due(later()):  # the printer is still off
        pass
    again = await client.post(url, headers=key)  # its first answer was lost on the shop's Wi-Fi
    assert again.status_code == 200, again.text
    assert (again.json()["state"], again.json()["attempts"]) == ("failed", 3)
    retried = await client.post(url, headers={"Idempotency-Key": "retry-tap-0002"})
    assert retried.json()["state"] == "queued"


async def test_a_cancel_repeated_with_its_key_gets_the_first_answer(
    client: httpx.AsyncClient, counter: Counter80, sender: PrintSender, virtual: VirtualPrinter
) -> None:
    store_id = counter.shop.store_id
    virtual.set_paper(True)
    await paid_sale(counter)
    assert await sender.deliver_due() == ["waiting"]
    (job,) = await PrintJob.select(PrintJob.id)
    await login_as(client, "cashier", store_id)
    url = f"/api/stores/{store_id}/print-jobs/{job['id']}/cancel"
    key = {"Idempotency-Key": "cancel-tap-0001"}
    first = await client.post(url, headers=key)
    again = await client.post(url, headers=key)  # its first answer was lost on the shop's Wi-Fi
    assert first.status_code == 200, first.text
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    another = await client.post(url, headers={"Idempotency-Key": "cancel-tap-0002"})
    assert (another.status_code, another.json()["code"]) == (409, "job_state")


async def test_a_cancelled_waiting_job_lets_the_next_receipt_print(
    client: httpx.AsyncClient, counter: Counter80, sender: PrintSender, virtual: VirtualPrinter
) -> None:
    store_id = counter.shop.store_id
    virtual.set_cover_open(True)
    first = await paid_sale(counter)
    assert await sender.deliver_due() == ["waiting"]
    second = await paid_sale(counter)
    await login_as(client, "cashier", store_id)
    (printer,) = (await client.get(f"/api/stores/{store_id}/printers")).json()
    stuck, behind = printer["jobs"]
    assert (stuck["order_id"], behind["order_id"]) == (first.id, second.id)

    cancelled = await client.post(f"/api/stores/{store_id}/print-jobs/{stuck['id']}/cancel")

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    assert cancelled.json()["last_error"].startswith("cancelled by ")
    (printer,) = (await client.get(f"/api/stores/{store_id}/printers")).json()
    assert [job["id"] for job in printer["jobs"]] == [behind["id"]]
    virtual.set_cover_open(False)
    assert await sender.deliver_due(later()) == ["printed"]
    (receipt,) = await wait_for_receipts(virtual, 1)
    assert any(second.number in line for line in receipt.decoded.text_lines)
    again = await client.post(f"/api/stores/{store_id}/print-jobs/{behind['id']}/cancel")
    assert (again.status_code, again.json()["code"]) == (409, "job_state")  # printed


async def test_another_stores_job_is_not_cancelled(
    client: httpx.AsyncClient, counter: Counter80, sender: PrintSender, virtual: VirtualPrinter
) -> None:
    virtual.set_cover_open(True)
    await paid_sale(counter)
    await sender.deliver_due()
    (job,) = await PrintJob.select(PrintJob.id)
    other = await add_store()
    await login_as(client, "manager", other)
    response = await client.post(f"/api/stores/{other}/print-jobs/{job['id']}/cancel")
    assert (response.status_code, response.json()["code"]) == (404, "print_job_not_found")
    assert await PrintJob.count().where(PrintJob.state == "waiting") == 1


async def test_openapi_names_every_printing_route(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    operations = {
        operation["operationId"]
        for path in schema["paths"].values()
        for operation in path.values()
        if isinstance(operation, dict) and "operationId" in operation
    }
    assert {"storePrinters", "reprintReceipt", "retryPrintJob", "cancelPrintJob"} <= operations


async def test_a_reprint_after_a_refund_prints_the_refund(
    client: httpx.AsyncClient, counter: Counter80, sender: PrintSender, virtual: VirtualPrinter
) -> None:
    store_id = counter.shop.store_id
    sold = await paid_sale(counter)
    await sender.deliver_due()
    await orders.record_refund(sold.id, amount_fen=500, restock=None)
    await login_as(client, "cashier", store_id)
    reprint = await client.post(f"/api/stores/{store_id}/orders/{sold.id}/reprint")
    assert reprint.status_code == 201, reprint.text
    await sender.deliver_due()
    original, reprinted = await wait_for_receipts(virtual, 2)
    assert not any("已退款" in line for line in original.decoded.text_lines)
    refunded = next(line for line in reprinted.decoded.text_lines if line.startswith("已退款"))
    assert refunded.endswith(" -5.00")
    kept = next(line for line in reprinted.decoded.text_lines if line.startswith("实付余额"))
    assert kept.endswith(f" {(sold.total_fen - 500) / 100:.2f}")
