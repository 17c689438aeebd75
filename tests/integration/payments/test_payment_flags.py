"""Flags for staff: on a payment (an amount that did not match), on a refund (refused by the
provider, stranded on its way to the payer, overdue), each listed and resolved on its own."""

from __future__ import annotations

import uuid

import httpx
import pytest

from pos.payments.provider import RefundResult
from pos.payments.sandbox import SandboxProvider
from pos.payments.tables import Payment, Refund, SandboxPayment
from tests.helpers.clock import Clock
from tests.helpers.staff import add_store, login_as
from tests.integration.payments.conftest import Bought, run_due, scan, start

pytestmark = pytest.mark.anyio

CODE = "134567890123456789"


def _flagged_path(bought: Bought) -> str:
    return f"/api/stores/{bought.shop.store_id}/payments/flagged"


def _resolve_path(bought: Bought, flagged: dict[str, object]) -> str:
    refund = f"/refunds/{flagged['refund_id']}" if flagged["refund_id"] is not None else ""
    return f"{_flagged_path(bought)}/{flagged['payment_id']}{refund}/resolve"


async def _paid(client: httpx.AsyncClient, bought: Bought) -> int:
    """Pay the order by code; the payment id."""
    paid = await scan(client, bought, CODE)
    assert paid.json()["status"] == "paid", paid.text
    return int(paid.json()["payment_id"])


async def _failed_refund(client: httpx.AsyncClient, bought: Bought) -> int:
    """Pay the order by code, then have the provider refuse a refund of it; the payment id."""
    payment_id = await _paid(client, bought)
    await SandboxPayment.update({SandboxPayment.status: "closed"}, force=True)
    await _refund_refused(client, bought, 500)
    return payment_id


async def _refund(
    client: httpx.AsyncClient, bought: Bought, amount_fen: int, reason: str = "bag torn"
) -> dict[str, object]:
    response = await client.post(
        f"/api/stores/{bought.shop.store_id}/orders/{bought.order_id}/refunds",
        json={"amount_fen": amount_fen, "reason": reason},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert response.status_code == 201, response.text
    refund: dict[str, object] = response.json()
    return refund


async def _refund_refused(client: httpx.AsyncClient, bought: Bought, amount_fen: int) -> None:
    refused = await _refund(client, bought, amount_fen)
    assert refused["status"] == "failed", refused


def _answers(
    sandbox: SandboxProvider, monkeypatch: pytest.MonkeyPatch, *answers: RefundResult
) -> None:
    """The sandbox answers the next refunds with `answers`, in turn."""
    left = list(answers)

    async def scripted(*_: object) -> RefundResult:
        return left.pop(0)

    monkeypatch.setattr(sandbox, "refund", scripted)


async def _flagged(
    client: httpx.AsyncClient, bought: Bought, *, resolved: bool = False
) -> list[dict[str, object]]:
    listed = await client.get(_flagged_path(bought), params={"resolved": str(resolved).lower()})
    assert listed.status_code == 200, listed.text
    flagged: list[dict[str, object]] = listed.json()
    return flagged


async def test_a_refused_refund_is_listed_until_staff_resolve_it(
    pay_client: httpx.AsyncClient, bought: Bought
) -> None:
    manager = await login_as(pay_client, "manager", bought.shop.store_id)
    payment_id = await _failed_refund(pay_client, bought)
    (flagged,) = await _flagged(pay_client, bought)
    refund = await Refund.objects().get(Refund.payment == payment_id)
    assert refund is not None
    assert (flagged["payment_id"], flagged["refund_id"]) == (payment_id, refund.id)
    assert (flagged["order_id"], flagged["flag"]) == (bought.order_id, "refund_failed")
    assert (flagged["paid_fen"], flagged["refunded_fen"]) == (2500, 0)
    assert (flagged["refund_amount_fen"], flagged["refund_reason"]) == (500, "bag torn")
    assert flagged["out_refund_no"] == refund.out_refund_no
    assert str(flagged["order_number"]).endswith(f"{bought.order_id:06d}")
    assert flagged["resolved_at"] is None
    resolve = _resolve_path(bought, flagged)
    note = {"note": "refunded 5.00 in cash at the desk"}
    resolved = await pay_client.post(resolve, json=note)
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["resolved_by"] == manager.user_id
    assert resolved.json()["note"] == "refunded 5.00 in cash at the desk"
    assert await _flagged(pay_client, bought) == []
    history = await _flagged(pay_client, bought, resolved=True)
    assert [(row["payment_id"], row["refund_id"]) for row in history] == [(payment_id, refund.id)]
    again = await pay_client.post(resolve, json={"note": "another note"})
    assert again.status_code == 200
    assert again.json() == resolved.json()


async def test_a_second_refused_refund_is_listed_on_its_own_the_first_staying_resolved(
    pay_client: httpx.AsyncClient, bought: Bought
) -> None:
    await login_as(pay_client, "cashier", bought.shop.store_id)
    payment_id = await _failed_refund(pay_client, bought)
    (first,) = await _flagged(pay_client, bought)
    assert (await pay_client.post(_resolve_path(bought, first), json={"note": "called"})).is_success
    await _refund_refused(pay_client, bought, 700)
    (second,) = await _flagged(pay_client, bought)
    assert (second["payment_id"], second["refund_amount_fen"]) == (payment_id, 700)
    assert second["refund_id"] != first["refund_id"]
    assert (second["resolved_at"], second["resolved_by"], second["note"]) == (None, None, "")
    (done,) = await _flagged(pay_client, bought, resolved=True)
    assert (done["refund_id"], done["note"]) == (first["refund_id"], "called")


async def test_a_refund_refused_after_one_stranded_leaves_both_listed_and_resolved_apart(
    pay_client: httpx.AsyncClient,
    bought: Bought,
    sandbox: SandboxProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await _paid(pay_client, bought)
    await login_as(pay_client, "manager", bought.shop.store_id)
    # The payer's card was closed: WeChat answers ABNORMAL, then refuses the next refund.
    _answers(
        sandbox,
        monkeypatch,
        RefundResult("succeeded", "5030001", stranded=True),
        RefundResult("failed"),
    )
    stranded = await _refund(pay_client, bought, 1000, "dented")
    refused = await _refund(pay_client, bought, 500, "bruised")
    assert (stranded["status"], refused["status"]) == ("succeeded", "failed")

    listed = await _flagged(pay_client, bought)

    # 10.00 left the store and never reached the payer: staff must still see it to send it on.
    assert [(row["flag"], row["refund_id"]) for row in listed] == [
        ("refund_failed", refused["refund_id"]),
        ("refund_stranded", stranded["refund_id"]),
    ]
    sent_on = {"note": "sent on from the merchant platform"}
    assert (await pay_client.post(_resolve_path(bought, listed[1]), json=sent_on)).is_success
    assert [row["flag"] for row in await _flagged(pay_client, bought)] == ["refund_failed"]


async def test_a_refused_refund_flag_says_how_much_is_still_owed_to_the_shopper(
    pay_client: httpx.AsyncClient,
    bought: Bought,
    sandbox: SandboxProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await _paid(pay_client, bought)
    await login_as(pay_client, "manager", bought.shop.store_id)
    _answers(sandbox, monkeypatch, RefundResult("succeeded", "5030001"), RefundResult("failed"))
    await _refund(pay_client, bought, 1000, "dented")
    refused = await _refund(pay_client, bought, 370, "bruised")
    assert refused["status"] == "failed"

    (flagged,) = await _flagged(pay_client, bought)

    # "Return it another way": paid 25.00 and refunded 10.00 do not say it is 3.70, and the
    # failed refund is in no order history either.
    assert (flagged["refund_amount_fen"], flagged["refund_reason"]) == (370, "bruised")
    assert flagged["out_refund_no"] == refused["out_refund_no"]


async def test_a_refund_flag_raised_on_its_payment_before_refunds_had_their_own_is_resolved_there(
    pay_client: httpx.AsyncClient, bought: Bought
) -> None:
    payment_id = await _paid(pay_client, bought)
    await login_as(pay_client, "manager", bought.shop.store_id)
    await Payment.update({Payment.flag: "refund_failed"}).where(Payment.id == payment_id)
    (flagged,) = await _flagged(pay_client, bought)
    assert (flagged["flag"], flagged["refund_id"], flagged["refund_amount_fen"]) == (
        "refund_failed",
        None,
        None,
    )
    resolved = await pay_client.post(_resolve_path(bought, flagged), json={"note": "paid in cash"})
    assert (resolved.status_code, resolved.json()["note"]) == (200, "paid in cash")
    assert await _flagged(pay_client, bought) == []


async def test_an_amount_mismatch_is_listed_on_its_payment_until_staff_resolve_it(
    pay_client: httpx.AsyncClient, bought: Bought, clock: Clock
) -> None:
    created = await start(pay_client, bought, {"method": "qr"})
    out_trade_no = created.json()["out_trade_no"]
    await SandboxPayment.update({SandboxPayment.amount_fen: 1}).where(
        SandboxPayment.out_trade_no == out_trade_no
    )
    await pay_client.post(f"/sandbox/pay/{out_trade_no}", data={"payer": "wx-payer-1"})
    await run_due(clock)
    await login_as(pay_client, "cashier", bought.shop.store_id)
    (flagged,) = await _flagged(pay_client, bought)
    assert (flagged["flag"], flagged["paid_fen"], flagged["refunded_fen"]) == (
        "amount_mismatch",
        1,
        1,
    )
    assert flagged["refund_id"] is None
    resolved = await pay_client.post(_resolve_path(bought, flagged), json={"note": "told them"})
    assert resolved.status_code == 200, resolved.text
    assert await _flagged(pay_client, bought) == []


async def test_resolving_needs_a_note_and_a_flag_of_the_store(
    pay_client: httpx.AsyncClient, bought: Bought
) -> None:
    await login_as(pay_client, "manager", bought.shop.store_id)
    payment_id = await _failed_refund(pay_client, bought)
    (flagged,) = await _flagged(pay_client, bought)
    resolve = _resolve_path(bought, flagged)
    assert (await pay_client.post(resolve, json={"note": " "})).status_code == 400
    # The flag is the refund's: the payment has none to resolve.
    on_payment = await pay_client.post(
        f"{_flagged_path(bought)}/{payment_id}/resolve", json={"note": "ok"}
    )
    assert (on_payment.status_code, on_payment.json()["code"]) == (404, "payment_not_flagged")
    other_payment = f"{_flagged_path(bought)}/{payment_id + 1}/refunds/{flagged['refund_id']}"
    moved = await pay_client.post(f"{other_payment}/resolve", json={"note": "ok"})
    assert (moved.status_code, moved.json()["code"]) == (404, "refund_not_flagged")
    await Refund.update({Refund.flag: ""}).where(Refund.id == flagged["refund_id"])
    unflagged = await pay_client.post(resolve, json={"note": "ok"})
    assert (unflagged.status_code, unflagged.json()["code"]) == (404, "refund_not_flagged")
    await login_as(pay_client, "restocker", bought.shop.store_id)
    assert (await pay_client.get(_flagged_path(bought))).status_code == 403
    other_store = await add_store()
    await login_as(pay_client, "manager", other_store)
    assert (await pay_client.get(_flagged_path(bought))).json()["code"] == "other_store"
    # Nor through their own store: the refund is not of it.
    await Refund.update({Refund.flag: "refund_failed"}).where(Refund.id == flagged["refund_id"])
    theirs = resolve.replace(f"/stores/{bought.shop.store_id}/", f"/stores/{other_store}/")
    through_theirs = await pay_client.post(theirs, json={"note": "ok"})
    assert (through_theirs.status_code, through_theirs.json()["code"]) == (
        404,
        "refund_not_flagged",
    )
