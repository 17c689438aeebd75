"""The managers' figures over HTTP: who may see which stores, CSV and SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx
import pytest

from pos.catalog.tables import Province
from tests.helpers.staff import login_as
from tests.integration.analytics.conftest import Sample

pytestmark = pytest.mark.anyio

FEB = {"date_from": "2026-02-01", "date_to": "2026-02-28"}
Q1 = {"date_from": "2026-01-01", "date_to": "2026-03-31"}


async def test_a_store_manager_sees_their_store_by_default(
    client: httpx.AsyncClient, sample: Sample
) -> None:
    await login_as(client, "manager", sample.b.store_id)
    response = await client.get("/api/analytics/buyers", params=FEB)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scope"]["store_ids"] == [sample.b.store_id]
    assert (body["orders"], body["buyers"], body["first_time_buyers"]) == (1, 1, 1)


async def test_a_store_manager_may_not_see_another_store(
    client: httpx.AsyncClient, sample: Sample
) -> None:
    await login_as(client, "manager", sample.b.store_id)
    params = {**FEB, "store_id": [sample.a.store_id, sample.b.store_id]}
    response = await client.get("/api/analytics/buyers", params=params)
    assert response.status_code == 403
    assert response.json()["code"] == "other_store"


@pytest.mark.parametrize(("role", "status"), [("cashier", 403), (None, 401)])
async def test_figures_need_a_manager(
    client: httpx.AsyncClient, sample: Sample, role: str | None, status: int
) -> None:
    if role is not None:
        await login_as(client, "cashier", sample.a.store_id)
    response = await client.get("/api/analytics/sales", params=FEB)
    assert response.status_code == status


async def test_a_reversed_period_is_refused(client: httpx.AsyncClient, sample: Sample) -> None:
    await login_as(client, "manager", None)
    params = {"date_from": "2026-03-01", "date_to": "2026-02-01"}
    response = await client.get("/api/analytics/sales", params=params)
    assert response.status_code == 422
    assert response.json()["code"] == "period_reversed"


async def test_head_office_gets_every_figure(client: httpx.AsyncClient, sample: Sample) -> None:
    await login_as(client, "manager", None)
    stores = {"store_id": [sample.a.store_id, sample.b.store_id]}
    for path in ("sales", "buyers", "cohorts", "second-purchase", "regions", "ratings/products"):
        response = await client.get(f"/api/analytics/{path}", params={**Q1, **stores})
        assert response.status_code == 200, (path, response.text)
    params = {**Q1, **stores, "by": "county"}
    response = await client.get("/api/analytics/repeat", params=params)
    assert {row["key"]: row["repeat_buyers"] for row in response.json()["rows"]} == {
        "990001": 2,
        "980001": 0,
    }


async def test_sales_as_csv(client: httpx.AsyncClient, sample: Sample) -> None:
    await login_as(client, "manager", sample.a.store_id)
    response = await client.get("/api/analytics/sales.csv", params={**FEB, "by": "county"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"  # the charset once
    assert "sales-by-county.csv" in response.headers["content-disposition"]
    lines = response.text.splitlines()
    assert lines[0] == "\ufeffcounty,name,net_fen,certified_fen,quantity,weight_g"
    assert lines[1:] == ["980001,县980001,5000,0,3,0", "990001,测试县,1500,1500,2,0"]


@pytest.mark.parametrize(
    ("path", "query"),
    [("sales", {"by": "day"}), ("sales", {"by": "product"}), ("cohorts", {"grain": "week"})],
)
async def test_charts_are_svg(
    client: httpx.AsyncClient, sample: Sample, path: str, query: dict[str, str]
) -> None:
    await login_as(client, "manager", sample.a.store_id)
    response = await client.get(f"/api/analytics/charts/{path}.svg", params={**Q1, **query})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert ET.fromstring(response.text).tag == "{http://www.w3.org/2000/svg}svg"


async def test_cohorts_and_repeat_as_csv(client: httpx.AsyncClient, sample: Sample) -> None:
    await login_as(client, "manager", None)
    cohorts = await client.get("/api/analytics/cohorts.csv", params=Q1)
    assert cohorts.text.splitlines()[1:3] == ["2026-01-01,0,2,2,1.0", "2026-01-01,1,2,1,0.5"]
    repeat = await client.get("/api/analytics/repeat.csv", params={**Q1, "by": "product"})
    assert repeat.text.splitlines()[0] == "\ufeffproduct,name,buyers,repeat_buyers,repeat_rate"


async def test_setting_a_store_region(client: httpx.AsyncClient, sample: Sample) -> None:
    await Province.objects().get_or_create(
        Province.code == "31", defaults={Province.name_zh: "上海"}
    )
    await login_as(client, "manager", sample.a.store_id)
    path = f"/api/analytics/stores/{sample.a.store_id}/region"
    assert (await client.put(path, json={"province_code": "31"})).status_code == 200
    unknown = await client.put(path, json={"province_code": "77"})
    assert unknown.json()["code"] == "unknown_province"
    regions = (await client.get("/api/analytics/regions", params=FEB)).json()
    assert [(r["buyer_region"], r["net_fen"]) for r in regions["rows"]] == [
        ("31", 5000),
        ("31", 1500),
    ]
    other = f"/api/analytics/stores/{sample.b.store_id}/region"
    assert (await client.put(other, json={"province_code": "31"})).status_code == 403


async def test_a_shopper_rates_from_the_e_receipt_and_a_manager_hides_it(
    client: httpx.AsyncClient, sample: Sample
) -> None:
    order = sample.orders["o1"]
    path, token = f"/api/orders/{order.id}/ratings", {"token": order.access_token or ""}
    body = {"ratings": [{"line_no": 1, "stars": 5, "comment": "香"}]}
    rated = await client.post(path, params=token, json=body)
    assert rated.status_code == 201, rated.text
    assert (await client.post(path, params={"token": "wrong"}, json=body)).status_code == 403
    public = (await client.get(f"/api/products/{sample.x}/ratings")).json()
    assert (public["average_stars"], public["latest"][0]["comment"]) == (5.0, "香")
    await login_as(client, "manager", sample.a.store_id)
    moderation = {"hidden": True, "reason": "reveals a name"}
    rating_id = rated.json()[0]["id"]
    hidden = await client.put(f"/api/analytics/ratings/{rating_id}/visibility", json=moderation)
    assert hidden.json()["hidden"] is True
    assert (await client.get(f"/api/products/{sample.x}/ratings")).json()["ratings"] == 0
    listed = await client.get("/api/analytics/ratings", params={"hidden": "true"})
    assert [r["id"] for r in listed.json()] == [rating_id]


async def test_a_product_id_past_the_id_range_is_a_400(
    client: httpx.AsyncClient, sample: Sample
) -> None:
    await login_as(client, "manager", sample.a.store_id)
    response = await client.get("/api/analytics/ratings", params={"product_id": 2**31})
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["key"] == "product_id"


async def test_a_shopper_joins_from_the_e_receipt(
    client: httpx.AsyncClient, sample: Sample
) -> None:
    order = sample.orders["o1"]
    response = await client.post(
        f"/api/orders/{order.id}/membership",
        params={"token": order.access_token or ""},
        json={"phone": "138 0013 8000"},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"linked_payers": 1}


@pytest.mark.parametrize("phone", ["12345678", "138-0013-800O", "+44 20 7946 0958"])
async def test_a_phone_that_is_no_mobile_number_gets_a_422(
    client: httpx.AsyncClient, sample: Sample, phone: str
) -> None:
    order = sample.orders["o1"]
    response = await client.post(
        f"/api/orders/{order.id}/membership",
        params={"token": order.access_token or ""},
        json={"phone": phone},
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_phone"
