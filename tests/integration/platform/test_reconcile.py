"""Reconciling a day of sales and refunds with the platform double, and resending what it lacks."""

from __future__ import annotations

import json
import os
import sys
from datetime import date

import anyio
import pytest

from pos.orders import service as orders
from pos.platform.reconcile import reconcile
from pos.platform.relay import Relay
from pos.platform.tables import CertifiedTransaction
from pos.settings import Settings
from tests.helpers.shop import Shop
from tests.integration.platform.conftest import (
    MERCHANT,
    DoubleServer,
    forward_all,
    paid_sale,
    run_outbox,
)

pytestmark = pytest.mark.anyio

_T = CertifiedTransaction


async def _mixed_day(shop: Shop) -> date:
    """Sales of certified, weighed and uncertified goods; partial and full refunds; all sent."""
    noodles = await shop.add(price_fen=1250)
    plums = await shop.add("kg", price_fen=998, stock=100_000)
    water = await shop.add(price_fen=200, certified=False)
    sales = [
        await paid_sale(shop, {"product_id": noodles, "quantity": 2}),
        await paid_sale(
            shop,
            {"product_id": noodles, "quantity": 1},
            {"product_id": plums, "weight_g": 1085},
            {"product_id": water, "quantity": 3},
        ),
        await paid_sale(shop, {"product_id": plums, "weight_g": 333}),
        await paid_sale(shop, {"product_id": water, "quantity": 1}),
    ]
    await orders.record_refund(sales[1].id, amount_fen=777, restock=None)
    await orders.record_refund(sales[1].id, amount_fen=1001, restock={noodles: 1})
    await orders.record_refund(sales[2].id, amount_fen=sales[2].total_fen, restock=None)
    await run_outbox()
    row = await _T.select(_T.business_day).first()
    assert row is not None
    return row["business_day"]  # type: ignore[no-any-return]


async def test_a_mixed_day_reconciles_then_names_exactly_a_lost_transaction(
    shop: Shop, double: DoubleServer, relay: Relay, settings: Settings
) -> None:
    await double.start()
    day = await _mixed_day(shop)
    await forward_all(relay)
    # The outbox runs different orders' events at once: rows come in no fixed order.
    kinds = sorted(row["kind"] for row in await _T.select(_T.kind))
    assert kinds == ["reversal", "reversal", "reversal", "sale", "sale", "sale"]
    report = await reconcile(day, settings)
    assert report.differences == []
    assert report.local_transactions == report.platform_transactions == 6
    lost_id = next(i for i in await _ids() if i.startswith(f"{MERCHANT}-R"))
    await double.forget(lost_id)
    report = await reconcile(day, settings)
    named = [d.key for d in report.differences if d.scope == "transaction"]
    assert named == [lost_id]
    assert {d.scope for d in report.differences} == {"transaction", "product", "county", "supplier"}


async def _ids() -> list[str]:
    return [row["transaction_id"] for row in await _T.select(_T.transaction_id).order_by(_T.id)]


async def test_the_reconcile_command_resends_what_the_platform_lacks(
    shop: Shop, double: DoubleServer, relay: Relay, settings: Settings
) -> None:
    await double.start()
    day = await _mixed_day(shop)
    await forward_all(relay)
    lost_id = (await _ids())[0]
    await double.forget(lost_id)
    found = await _command(settings, "--date", day.isoformat())
    assert found.returncode == 1
    assert f"{MERCHANT} transaction {lost_id}: here " in found.stdout.decode()
    fixed = await _command(settings, "--date", day.isoformat(), "--resend")
    assert fixed.returncode == 0, fixed.stderr.decode()
    assert f"resent {lost_id}" in fixed.stdout.decode()
    assert "0 differences" in fixed.stdout.decode()
    assert (await reconcile(day, settings)).differences == []
    # Forgetting a transaction forgets its deliveries: the resend is its only one now.
    assert await double.counts() == {"transactions": 6, "deliveries": 6}


async def _command(settings: Settings, *args: str) -> anyio.abc.Process:
    keys = {
        merchant: key.get_secret_value()
        for merchant, key in settings.platform_merchant_keys.items()
    }
    env = {
        **os.environ,
        "POS_DATABASE_URL": settings.database_url,
        "POS_PLATFORM_URL": settings.platform_url or "",
        "POS_PLATFORM_MERCHANT_KEYS": json.dumps(keys),
    }
    command = [sys.executable, "-m", "pos.cli", "platform", "reconcile", *args]
    return await anyio.run_process(command, env=env, check=False)
