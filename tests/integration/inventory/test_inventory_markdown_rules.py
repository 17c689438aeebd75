"""Markdown rules keep who made them, when and why; deleting one retires it: it stops applying."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from piccolo.apps.migrations.tables import Migration

from pos.db import Statement
from pos.db.migrate import migrate
from pos.inventory import service as inventory
from pos.inventory import shelf_life
from pos.inventory.tables import MarkdownRule
from tests.helpers.shop import Shop, open_shop
from tests.helpers.staff import login_as

pytestmark = pytest.mark.anyio

_R = MarkdownRule
_AUDIT_MIGRATION = "2026-12-04T16:56:11:698737"
_AUDIT_COLUMNS = ("reason", "created_by", "created_at", "retired_by", "retired_at")


def _rules_url(store_id: int) -> str:
    return f"/api/stores/{store_id}/inventory/markdown-rules"


async def _marked_down_shop(client: httpx.AsyncClient) -> tuple[Shop, int, dict[str, Any]]:
    """A shop whose product has 5 units near expiry, and a manager's 50 % rule made for them."""
    shop = await open_shop()
    product = await shop.add(price_fen=1000, stock=5)
    await shop.add_near_expiry_batch(product, units=5)
    await login_as(client, "manager", shop.store_id)
    body = {"within_hours": 24, "percent": 50, "reason": "yoghurt near its date"}
    made = await client.post(_rules_url(shop.store_id), json=body)
    assert made.status_code == 201, made.text
    return shop, product, made.json()


async def test_a_new_rule_records_who_made_it_when_and_why(client: httpx.AsyncClient) -> None:
    store_id = (await open_shop()).store_id
    manager = await login_as(client, "manager", store_id)
    before = datetime.now(UTC)
    body = {"within_hours": 24, "percent": 30, "reason": "  yoghurt near its date \n"}

    made = await client.post(_rules_url(store_id), json=body)

    assert made.status_code == 201, made.text
    rule = made.json()
    assert (rule["created_by"], rule["reason"]) == (manager.name, "yoghurt near its date")
    assert before <= datetime.fromisoformat(rule["created_at"]) <= datetime.now(UTC)
    assert (rule["retired_by"], rule["retired_at"]) == ("", None)
    listed = (await client.get(_rules_url(store_id))).json()
    assert listed == [rule]


@pytest.mark.parametrize("reason", ["", " \t\n "])
async def test_a_blank_reason_is_refused_with_a_422_and_no_rule_is_made(
    client: httpx.AsyncClient, reason: str
) -> None:
    store_id = (await open_shop()).store_id
    await login_as(client, "manager", store_id)
    body = {"within_hours": 24, "percent": 30, "reason": reason}

    refused = await client.post(_rules_url(store_id), json=body)

    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "markdown_reason_required"
    assert "reason" in refused.json()["detail"]
    assert await _R.count().where(_R.store == store_id) == 0


@pytest.mark.parametrize("reason", [pytest.param(None, id="missing"), " " + "x" * 201])
async def test_a_missing_or_too_long_reason_is_an_invalid_request_and_no_rule_is_made(
    client: httpx.AsyncClient, reason: str | None
) -> None:
    store_id = (await open_shop()).store_id
    await login_as(client, "manager", store_id)
    body: dict[str, Any] = {"within_hours": 24, "percent": 30}
    if reason is not None:
        body["reason"] = reason

    refused = await client.post(_rules_url(store_id), json=body)

    assert (refused.status_code, refused.json()["code"]) == (400, "invalid_request"), refused.text
    assert [error["key"] for error in refused.json()["errors"]] == ["reason"]
    assert await _R.count().where(_R.store == store_id) == 0


async def test_a_reason_of_200_characters_once_trimmed_is_kept_whole(
    client: httpx.AsyncClient,
) -> None:
    store_id = (await open_shop()).store_id
    await login_as(client, "manager", store_id)
    body = {"within_hours": 24, "percent": 30, "reason": f" {'x' * 200} "}

    made = await client.post(_rules_url(store_id), json=body)

    assert made.status_code == 201, made.text
    assert made.json()["reason"] == "x" * 200


async def test_deleting_a_rule_retires_it_and_checkout_no_longer_marks_down(
    client: httpx.AsyncClient,
) -> None:
    shop, product, rule = await _marked_down_shop(client)
    marked_down = (await shop.order({"product_id": product, "quantity": 1})).order
    assert marked_down.discount_fen == 500
    retiring = await login_as(client, "manager", shop.store_id)

    deleted = await client.delete(f"{_rules_url(shop.store_id)}/{rule['id']}")

    assert deleted.status_code == 204, deleted.text
    assert (await shop.order({"product_id": product, "quantity": 1})).order.discount_fen == 0
    assert await inventory.markdown_rules(shop.store_id) == ()
    kept = await _R.select().where(_R.id == rule["id"]).first()
    assert kept is not None
    assert (kept["retired_by"], kept["reason"]) == (retiring.name, "yoghurt near its date")
    assert kept["retired_at"] is not None


async def test_deleting_a_retired_rule_answers_as_for_an_unknown_one_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    shop, _, rule = await _marked_down_shop(client)
    url = f"{_rules_url(shop.store_id)}/{rule['id']}"
    assert (await client.delete(url)).status_code == 204
    first = await _R.select(_R.retired_by, _R.retired_at).where(_R.id == rule["id"]).first()
    await login_as(client, "manager", shop.store_id)  # another manager tries again

    again = await client.delete(url)
    unknown = await client.delete(f"{_rules_url(shop.store_id)}/{rule['id'] + 1000}")

    for answer in (again, unknown):
        assert answer.status_code == 404, answer.text
        assert answer.json()["code"] == "markdown_rule_not_found"
    assert await _R.select(_R.retired_by, _R.retired_at).where(_R.id == rule["id"]).first() == (
        first
    )


async def test_the_list_shows_retired_rules_with_who_retired_them_only_when_asked(
    client: httpx.AsyncClient,
) -> None:
    shop, _, retired = await _marked_down_shop(client)
    kept_body = {"within_hours": 6, "percent": 20, "reason": "bread baked this morning"}
    kept = (await client.post(_rules_url(shop.store_id), json=kept_body)).json()
    retiring = await login_as(client, "manager", shop.store_id)
    assert (await client.delete(f"{_rules_url(shop.store_id)}/{retired['id']}")).status_code == 204

    active = await client.get(_rules_url(shop.store_id))
    everything = await client.get(_rules_url(shop.store_id), params={"include_retired": "true"})

    assert active.json() == [kept]
    assert [rule["id"] for rule in everything.json()] == [retired["id"], kept["id"]]
    shown = everything.json()[0]
    assert (shown["reason"], shown["created_by"]) == (retired["reason"], retired["created_by"])
    assert (shown["retired_by"], shown["created_at"]) == (retiring.name, retired["created_at"])
    assert shown["retired_at"] is not None


async def test_a_rule_made_before_the_record_says_so_and_still_applies(db: str) -> None:
    """The migration on a database that has a rule from before it: the rule gets its defaults."""
    store_id = (await open_shop()).store_id
    for column in _AUDIT_COLUMNS:
        await Statement(f"ALTER TABLE markdown_rule DROP COLUMN {column}").rows()
    await Migration.delete().where(Migration.name == _AUDIT_MIGRATION)
    try:
        old = Statement(
            "INSERT INTO markdown_rule (store, within_hours, percent) VALUES ({}, 24, 30)"
        )
        await old.rows(store_id)
        await migrate()
        listed = await shelf_life.rules(store_id, include_retired=True)
        applying = await inventory.markdown_rules(store_id)
    finally:  # the PostgreSQL database is shared by the tests after this one: leave it migrated
        if not await Migration.exists().where(Migration.name == _AUDIT_MIGRATION):
            await migrate()

    [rule] = listed
    assert (rule.created_by, rule.created_at) == ("unknown", None)
    assert rule.reason == "recorded before reasons were kept"
    assert (rule.retired_by, rule.retired_at) == ("", None)
    assert [(found.within_hours, found.percent) for found in applying] == [(24, 30)]
