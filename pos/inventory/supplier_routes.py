"""Inventory API for suppliers (signed pushes, their restock orders) and their feed settings.

Pushes are read as raw bytes: the signature covers the exact body, and a malformed body is
refused by our own check, which names each bad line.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK

from pos.db import RowId
from pos.inventory import feeds, notices, replenishment, supplier_sync
from pos.inventory.schemas import RestockOrderOut
from pos.inventory.sync_schemas import FeedIn, FeedOut, ShipmentNoticeOut, SyncResultOut
from pos.staff.actors import SupplierActor
from pos.staff.guards import SUPPLIER_ACTOR, staff, supplier

__all__ = ["SupplierFeedController", "SupplierInventoryController"]

SIGNED = (
    "Sign with the key's signing secret: X-Pos-Timestamp (Unix seconds) and X-Pos-Signature "
    "(hex HMAC-SHA256 of the timestamp, a newline and the body)."
)


class SupplierInventoryController(Controller):
    path = "/api/suppliers/{supplier_id:int}"
    tags = ("supplier sync",)
    guards = (supplier(),)
    dependencies = {"actor": SUPPLIER_ACTOR}

    @post(
        "/stock",
        operation_id="pushSupplierStock",
        status_code=HTTP_200_OK,
        description=SIGNED,
        # As much as a pulled feed: room for MAX_UPDATES lines, past Litestar's 10 MB default.
        request_max_body_size=feeds.MAX_FEED_BYTES,
    )
    async def push_stock(
        self, request: Request[Any, Any, Any], actor: NamedDependency[SupplierActor]
    ) -> SyncResultOut:
        """Stock levels: `{"updates": [{certificate_no, available, updated_at}]}`."""
        body = await request.body()
        return await supplier_sync.push_stock(actor, request.headers, body)

    @post(
        "/shipments", operation_id="pushShipmentNotice", status_code=HTTP_200_OK, description=SIGNED
    )
    async def push_notice(
        self, request: Request[Any, Any, Any], actor: NamedDependency[SupplierActor]
    ) -> ShipmentNoticeOut:
        """A shipment notice (ShipmentNoticeIn); a newer `updated_at` replaces an open one."""
        body = await request.body()
        return await notices.push_notice(actor, request.headers, body)

    @get("/restock-orders", operation_id="supplierRestockOrders")
    async def orders(self, supplier_id: FromPath[RowId]) -> list[RestockOrderOut]:
        """Restock orders stores placed with this supplier, newest first, ordered vs received."""
        return await replenishment.restock_orders(supplier_id=supplier_id)


class SupplierFeedController(Controller):
    path = "/api/suppliers/{supplier_id:int}/feed"
    tags = ("supplier sync",)
    guards = (staff("manager", head_office=True),)

    @put(operation_id="setSupplierFeed")
    async def set_feed(self, supplier_id: FromPath[RowId], data: JSONBody[FeedIn]) -> FeedOut:
        """Pull the supplier's JSON or CSV feed from a URL on a schedule, starting now."""
        return await feeds.set_feed(supplier_id, data)

    @get(operation_id="getSupplierFeed")
    async def get_feed(self, supplier_id: FromPath[RowId]) -> FeedOut:
        """The feed's settings and how its last pull went."""
        return await feeds.get_feed(supplier_id)

    @post("/pull", operation_id="pullSupplierFeed", status_code=HTTP_200_OK)
    async def pull(self, supplier_id: FromPath[RowId]) -> SyncResultOut:
        """Pull the feed now."""
        return await feeds.pull_feed(supplier_id)
