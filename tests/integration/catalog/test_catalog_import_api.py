"""POST /api/catalog/imports: head-office managers upload the list as CSV or JSON Lines."""

from __future__ import annotations

import json

import httpx
import pytest

from pos.catalog.tables import Product
from tests.helpers.catalog import csv_bytes, jsonl_bytes, row
from tests.helpers.staff import add_store, login_as

pytestmark = pytest.mark.anyio

URL = "/api/catalog/imports"
CSV = {"Content-Type": "text/csv; charset=utf-8"}
NDJSON = {"Content-Type": "application/x-ndjson"}


async def test_head_office_manager_imports_csv_and_json_lines(client: httpx.AsyncClient) -> None:
    await login_as(client, "manager", None)
    first = await client.post(URL, content=csv_bytes([row(1), row(2)]), headers=CSV)
    assert first.status_code == 201, first.text
    assert first.json() | {"seconds": 0} == {
        "rows": 2,
        "inserted": 2,
        "updated": 0,
        "unchanged": 0,
        "revision": 1,
        "seconds": 0,
    }
    again = await client.post(
        URL, content=jsonl_bytes([row(1), row(2, price_fen=990)]), headers=NDJSON
    )
    assert again.status_code == 201, again.text
    assert (again.json()["updated"], again.json()["unchanged"]) == (1, 1)


async def test_a_bad_file_answers_422_with_each_bad_line(client: httpx.AsyncClient) -> None:
    await login_as(client, "manager", None)
    response = await client.post(URL, content=csv_bytes([row(1), row(2, unit="box")]), headers=CSV)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "catalog_rejected"
    assert body["errors"] == [{"line": 3, "reason": "unit must be one of piece, kg"}]
    assert body["error_count"] == 1
    assert await Product.count() == 0


async def test_json_lines_sent_as_csv_answer_422_naming_the_header(
    client: httpx.AsyncClient,
) -> None:
    await login_as(client, "manager", None)
    compact = json.dumps(row(1), ensure_ascii=False, separators=(",", ":")).encode()  # as jq -c

    response = await client.post(URL, content=compact + b"\n", headers=CSV)

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["line"] == 1
    assert response.json()["errors"][0]["reason"].startswith("unreadable CSV")


async def test_other_content_types_answer_415(client: httpx.AsyncClient) -> None:
    await login_as(client, "manager", None)
    response = await client.post(URL, json=[row(1)])
    assert response.status_code == 415
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await Product.count() == 0


async def test_without_a_sign_in_the_answer_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post(URL, content=csv_bytes([row(1)]), headers=CSV)
    assert response.status_code == 401


async def test_a_store_manager_gets_403(client: httpx.AsyncClient) -> None:
    await login_as(client, "manager", await add_store())
    response = await client.post(URL, content=csv_bytes([row(1)]), headers=CSV)
    assert response.status_code == 403
    assert await Product.count() == 0


@pytest.mark.parametrize("at_head_office", [True, False])
async def test_a_cashier_gets_403(client: httpx.AsyncClient, at_head_office: bool) -> None:
    await login_as(client, "cashier", None if at_head_office else await add_store())
    response = await client.post(URL, content=csv_bytes([row(1)]), headers=CSV)
    assert response.status_code == 403


async def test_a_lone_surrogate_in_a_json_lines_value_is_refused_naming_the_line(
    client: httpx.AsyncClient,
) -> None:
    # json.loads turns the escape "\ud800" into a lone surrogate, which no database text holds.
    await login_as(client, "manager", None)
    line = json.dumps(row(1, name_zh="\ud800"), ensure_ascii=True).encode() + b"\n"

    response = await client.post(URL, content=line, headers=NDJSON)

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "catalog_rejected"
    assert [error["line"] for error in response.json()["errors"]] == [1]
    assert await Product.count() == 0


async def test_a_lone_surrogate_in_a_json_lines_key_is_refused(client: httpx.AsyncClient) -> None:
    # The unknown key is echoed into the problem's text, which then cannot be encoded.
    await login_as(client, "manager", None)
    line = json.dumps({**row(1), "\ud800": "x"}, ensure_ascii=True).encode() + b"\n"

    response = await client.post(URL, content=line, headers=NDJSON)

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "catalog_rejected"
    assert await Product.count() == 0
