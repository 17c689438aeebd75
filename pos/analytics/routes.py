"""Analytics API: figures for managers (JSON, CSV, SVG), ratings from e-receipts, moderation.

Figures take `store_id` (repeatable; none: every store the manager manages), `date_from` and
`date_to` (store-local days, both included); a manager sees only the stores they manage.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import Controller, Response, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from pos.analytics import charts, export, members, ratings, service
from pos.analytics.schemas import (
    BuyersOut,
    CohortsOut,
    ComebackOut,
    Dimension,
    Grain,
    MembershipIn,
    MembershipOut,
    ModerationIn,
    ProductRatingOut,
    PublicRatingsOut,
    RatingOut,
    RatingsIn,
    RegionsOut,
    RepeatBy,
    RepeatOut,
    SalesOut,
    StoreRegionIn,
    StoreRegionOut,
)
from pos.analytics.service import Scope
from pos.db import OptionalRowId, RowId
from pos.settings import Settings
from pos.staff.actors import StaffActor
from pos.staff.guards import STAFF_ACTOR, any_staff, staff

__all__ = [
    "AnalyticsController",
    "AnalyticsExportController",
    "OrderRatingController",
    "ProductRatingController",
]

StoreIds = Annotated[
    list[int] | None, QueryParameter(description="repeat for several; none: all you manage")
]
Token = Annotated[str, QueryParameter(description="the order's access token")]
_CSV = "text/csv"  # Litestar adds "; charset=utf-8" to text types
_SVG = "image/svg+xml"


async def provide_period(
    actor: NamedDependency[StaffActor],
    date_from: FromQuery[date],
    date_to: FromQuery[date],
    store_id: StoreIds = None,
) -> Scope:
    """Dependency: the stores and days asked for, checked against the manager's stores."""
    return await service.scope_for(actor, store_id, date_from, date_to)


async def provide_stores(
    actor: NamedDependency[StaffActor], store_id: StoreIds = None
) -> tuple[int, ...]:
    """Dependency: the stores asked for, checked, for listings that need no period."""
    return await service.stores_for(actor, store_id)


_DEPENDENCIES = {
    "actor": STAFF_ACTOR,
    "period": Provide(provide_period),
    "stores": Provide(provide_stores),
}


class AnalyticsController(Controller):
    path = "/api/analytics"
    tags = ("analytics",)
    guards = [any_staff]
    dependencies = _DEPENDENCIES

    @get("/sales", operation_id="analyticsSales", summary="Net and certified sales by dimension")
    async def sales(
        self, period: NamedDependency[Scope], by: FromQuery[Dimension] = "day"
    ) -> SalesOut:
        return await service.sales(period, by)

    @get("/buyers", operation_id="analyticsBuyers", summary="First-time and repeat buyers")
    async def buyers(self, period: NamedDependency[Scope]) -> BuyersOut:
        return await service.buyers(period)

    @get("/cohorts", operation_id="analyticsCohorts", summary="Cohort retention")
    async def cohorts(
        self, period: NamedDependency[Scope], grain: FromQuery[Grain] = "month"
    ) -> CohortsOut:
        return await service.cohorts(period, grain)

    @get(
        "/second-purchase",
        operation_id="analyticsSecondPurchase",
        summary="Time from a buyer's first purchase to their second",
    )
    async def second_purchase(self, period: NamedDependency[Scope]) -> ComebackOut:
        return await service.comeback_time(period)

    @get("/repeat", operation_id="analyticsRepeat", summary="Repeat rate per product or county")
    async def repeat(
        self, period: NamedDependency[Scope], by: FromQuery[RepeatBy] = "product"
    ) -> RepeatOut:
        return await service.repeat(period, by)

    @get("/regions", operation_id="analyticsRegions", summary="Buyer region against origin")
    async def regions(self, period: NamedDependency[Scope]) -> RegionsOut:
        return await service.regions(period)

    @put(
        "/stores/{store_id:int}/region",
        operation_id="analyticsSetStoreRegion",
        guards=[staff("manager")],
        summary="Set the province a store's buyers count for",
    )
    async def set_region(
        self, store_id: FromPath[RowId], data: JSONBody[StoreRegionIn]
    ) -> StoreRegionOut:
        return await service.set_store_region(store_id, data.province_code)

    @get("/ratings", operation_id="analyticsRatings", summary="Newest ratings, for moderation")
    async def list_ratings(
        self,
        stores: NamedDependency[tuple[int, ...]],
        product_id: FromQuery[OptionalRowId] = None,
        hidden: FromQuery[bool | None] = None,
    ) -> list[RatingOut]:
        return await ratings.list_ratings(stores, product_id=product_id, hidden=hidden)

    @get(
        "/ratings/products",
        operation_id="analyticsProductRatings",
        summary="Average stars per product",
    )
    async def product_ratings(
        self, stores: NamedDependency[tuple[int, ...]]
    ) -> list[ProductRatingOut]:
        return await ratings.product_averages(stores)

    @put(
        "/ratings/{rating_id:int}/visibility",
        operation_id="analyticsModerateRating",
        summary="Hide or show a rating, saying why",
    )
    async def moderate(
        self,
        rating_id: FromPath[RowId],
        data: JSONBody[ModerationIn],
        actor: NamedDependency[StaffActor],
    ) -> RatingOut:
        return await ratings.moderate(actor, rating_id, data)


class AnalyticsExportController(Controller):
    path = "/api/analytics"
    tags = ("analytics",)
    guards = [any_staff]
    dependencies = _DEPENDENCIES

    @get("/sales.csv", operation_id="analyticsSalesCsv", summary="Sales by dimension as CSV")
    async def sales_csv(
        self, period: NamedDependency[Scope], by: FromQuery[Dimension] = "day"
    ) -> Response[str]:
        text = export.sales_csv(await service.sales(period, by))
        return Response(text, media_type=_CSV, headers=_attachment(f"sales-by-{by}.csv"))

    @get("/cohorts.csv", operation_id="analyticsCohortsCsv", summary="Cohort retention as CSV")
    async def cohorts_csv(
        self, period: NamedDependency[Scope], grain: FromQuery[Grain] = "month"
    ) -> Response[str]:
        text = export.cohorts_csv(await service.cohorts(period, grain))
        return Response(text, media_type=_CSV, headers=_attachment(f"cohorts-{grain}.csv"))

    @get("/repeat.csv", operation_id="analyticsRepeatCsv", summary="Repeat rates as CSV")
    async def repeat_csv(
        self, period: NamedDependency[Scope], by: FromQuery[RepeatBy] = "product"
    ) -> Response[str]:
        text = export.repeat_csv(await service.repeat(period, by))
        return Response(text, media_type=_CSV, headers=_attachment(f"repeat-by-{by}.csv"))

    @get("/charts/sales.svg", operation_id="analyticsSalesChart", summary="Sales chart (SVG)")
    async def sales_chart(
        self, period: NamedDependency[Scope], by: FromQuery[Dimension] = "day"
    ) -> Response[str]:
        return Response(charts.sales_chart(await service.sales(period, by)), media_type=_SVG)

    @get("/charts/cohorts.svg", operation_id="analyticsCohortsChart", summary="Retention (SVG)")
    async def cohorts_chart(
        self, period: NamedDependency[Scope], grain: FromQuery[Grain] = "month"
    ) -> Response[str]:
        return Response(charts.cohorts_chart(await service.cohorts(period, grain)), media_type=_SVG)


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


class OrderRatingController(Controller):
    path = "/api/orders/{order_id:int}"
    tags = ("ratings",)

    @post(
        "/ratings",
        operation_id="rateOrderLines",
        status_code=HTTP_201_CREATED,
        summary="Rate the products of a paid order (from the e-receipt)",
    )
    async def rate(
        self, order_id: FromPath[RowId], token: Token, data: JSONBody[RatingsIn]
    ) -> list[RatingOut]:
        return await ratings.submit(order_id, token, data)

    @get("/ratings", operation_id="getOrderRatings", summary="The ratings given on an order")
    async def read(self, order_id: FromPath[RowId], token: Token) -> list[RatingOut]:
        return await ratings.order_ratings(order_id, token)

    @post(
        "/membership",
        operation_id="joinMembership",
        status_code=HTTP_200_OK,
        summary="Opt in: count this order's payment account as the member with this phone",
    )
    async def join(
        self,
        order_id: FromPath[RowId],
        token: Token,
        data: JSONBody[MembershipIn],
        settings: NamedDependency[Settings],
    ) -> MembershipOut:
        secret = settings.secret_key.get_secret_value()
        return await members.join(order_id, token, data, secret=secret)


class ProductRatingController(Controller):
    path = "/api/products/{product_id:int}/ratings"
    tags = ("ratings",)

    @get(operation_id="getProductRatings", summary="A product's average stars and latest comments")
    async def read(self, product_id: FromPath[RowId]) -> PublicRatingsOut:
        return await ratings.public_ratings(product_id)
