"""Stores API: what a counter sells."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, Parameter
from litestar.status_codes import HTTP_304_NOT_MODIFIED

from pos.db import MAX_BIGINT, MAX_ROW_ID, OptionalRowId, RowId
from pos.settings import MAX_CATALOG_PAGE_SIZE, Settings
from pos.staff.guards import staff
from pos.stores import listings
from pos.stores import service as stores
from pos.stores.schemas import CounterCatalog, PriceChangeOut

__all__ = ["CounterCatalogController", "PriceChangeController"]


class CounterCatalogController(Controller):
    path = "/api/counters/{counter_id:int}/products"
    tags = ["catalog"]

    @get(operation_id="counterCatalog", summary="Products sellable at a counter")
    async def list_products(
        self,
        request: Request[Any, Any, Any],
        counter_id: FromPath[RowId],
        settings: NamedDependency[Settings],
        q: Annotated[str | None, Parameter(description="name, pinyin initials or barcode")] = None,
        since: Annotated[
            int | None, Parameter(ge=0, le=MAX_BIGINT, description="an earlier answer's `revision`")
        ] = None,
        cursor: Annotated[int | None, Parameter(ge=0, le=MAX_ROW_ID)] = None,
        limit: Annotated[
            int | None,
            Parameter(ge=1, le=MAX_CATALOG_PAGE_SIZE, description="none: POS_CATALOG_PAGE_SIZE"),
        ] = None,
    ) -> Response[CounterCatalog | None]:
        """Paginated, searchable; `since` returns only what changed; ETag answers 304."""
        limit = settings.catalog_page_size if limit is None else limit
        params = {"q": q, "since": since, "cursor": cursor, "limit": limit}
        etag = await listings.counter_catalog_etag(counter_id, **params)
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if request.headers.get("if-none-match") == etag:
            return Response(None, status_code=HTTP_304_NOT_MODIFIED, headers=headers)
        page = await listings.counter_catalog(
            counter_id, query=q, since=since, cursor=cursor, limit=limit
        )
        return Response(page, headers=headers)


class PriceChangeController(Controller):
    path = "/api/stores/{store_id:int}/price-changes"
    tags = ["catalog"]
    guards = [staff("manager")]

    @get(operation_id="storePriceChanges", summary="Price changes: who, when and why")
    async def list_changes(
        self,
        store_id: FromPath[RowId],
        product_id: Annotated[OptionalRowId, Parameter(description="one product only")] = None,
    ) -> list[PriceChangeOut]:
        """The store's own prices and the catalog's of what it lists, newest first (200)."""
        return await stores.price_changes(store_id, product_id)
