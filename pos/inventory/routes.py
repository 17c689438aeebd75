"""Inventory API for store staff: levels, the ledger, batches, replenishment, receiving, counts."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from pos.db import OptionalRowId, RowId
from pos.idempotency import OptionalIdempotencyKey
from pos.inventory import (
    counts,
    movements,
    notices,
    receiving,
    replenishment,
    service,
    shelf_life,
)
from pos.inventory.schemas import (
    BatchOut,
    CountOut,
    CountScanIn,
    LowStockOut,
    MarkdownRuleIn,
    MarkdownRuleOut,
    MovementIn,
    MovementOut,
    ReceivingLineIn,
    ReceivingOut,
    ReceivingScanIn,
    ReceivingStartIn,
    RestockOrderIn,
    RestockOrderOut,
    StockOut,
    ThresholdIn,
    ThresholdOut,
    TransferIn,
    WriteOffIn,
)
from pos.inventory.sync_schemas import ShipmentNoticeOut
from pos.staff.actors import StaffActor
from pos.staff.guards import STAFF_ACTOR, staff

__all__ = ["StockController", "TabletController"]


ANY_STAFF = staff("manager", "restocker", "cashier")
STOCK_STAFF = staff("manager", "restocker")
MANAGER = staff("manager")


class StockController(Controller):
    path = "/api/stores/{store_id:int}/inventory"
    tags = ("inventory",)
    dependencies = {"actor": STAFF_ACTOR}

    @get("/stock", operation_id="storeStock", guards=[ANY_STAFF])
    async def levels(self, store_id: FromPath[RowId]) -> list[StockOut]:
        """Every product level of the store."""
        return await movements.levels(store_id)

    @get("/stock/{product_id:int}", operation_id="productStock", guards=[ANY_STAFF])
    async def level(self, store_id: FromPath[RowId], product_id: FromPath[RowId]) -> StockOut:
        """One product's level: one row read, however long the ledger."""
        return await service.get_level(store_id, product_id)

    @get("/movements", operation_id="stockMovements", guards=[STOCK_STAFF])
    async def history(
        self,
        store_id: FromPath[RowId],
        product_id: FromQuery[OptionalRowId] = None,
        before_id: FromQuery[OptionalRowId] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> list[MovementOut]:
        """The audit trail, newest first; page with `before_id`."""
        return await movements.history(
            store_id, product_id=product_id, before_id=before_id, limit=limit
        )

    @post("/movements", operation_id="recordMovement", guards=[STOCK_STAFF])
    async def record(
        self,
        store_id: FromPath[RowId],
        data: JSONBody[MovementIn],
        actor: NamedDependency[StaffActor],
        idempotency_key: OptionalIdempotencyKey = None,
    ) -> MovementOut:
        """An adjustment, write-off, return or count, maybe from a tablet that was offline."""
        return await movements.record(
            store_id, data, actor=actor.name, idempotency_key=idempotency_key
        )

    @post("/transfers", operation_id="transferStock", guards=[MANAGER])
    async def transfer(
        self,
        store_id: FromPath[RowId],
        data: JSONBody[TransferIn],
        actor: NamedDependency[StaffActor],
        idempotency_key: OptionalIdempotencyKey = None,
    ) -> list[MovementOut]:
        """Move units to another store: its movements, out first; a retry moves nothing more."""
        return await movements.transfer(
            store_id, data, actor=actor.name, idempotency_key=idempotency_key
        )

    @get("/batches/expiring", operation_id="expiringBatches", guards=[STOCK_STAFF])
    async def expiring(
        self,
        store_id: FromPath[RowId],
        within_hours: Annotated[int, QueryParameter(ge=0, le=24 * 60)] = 48,
    ) -> list[BatchOut]:
        """Batches expiring soon, soonest first; expired ones are flagged for write-off."""
        return await shelf_life.expiring(store_id, within_hours)

    @post(
        "/batches/{batch_id:int}/write-off",
        operation_id="writeOffBatch",
        guards=[STOCK_STAFF],
        status_code=HTTP_201_CREATED,
    )
    async def write_off(
        self,
        store_id: FromPath[RowId],
        batch_id: FromPath[RowId],
        data: JSONBody[WriteOffIn],
        actor: NamedDependency[StaffActor],
        idempotency_key: OptionalIdempotencyKey = None,
    ) -> MovementOut:
        """Write off what is left of a batch; a retry writes off nothing more."""
        return await shelf_life.write_off_batch(
            store_id,
            batch_id,
            reason=data.reason,
            actor=actor.name,
            idempotency_key=idempotency_key,
        )

    @get("/markdown-rules", operation_id="markdownRules", guards=[STOCK_STAFF])
    async def rules(
        self, store_id: FromPath[RowId], include_retired: FromQuery[bool] = False
    ) -> list[MarkdownRuleOut]:
        """The store's markdown rules that apply (all of them with `include_retired=true`)."""
        return await shelf_life.rules(store_id, include_retired=include_retired)

    @post("/markdown-rules", operation_id="addMarkdownRule", guards=[MANAGER])
    async def add_rule(
        self,
        store_id: FromPath[RowId],
        data: JSONBody[MarkdownRuleIn],
        actor: NamedDependency[StaffActor],
    ) -> MarkdownRuleOut:
        """A new rule and why, e.g. 30 % off in the last 24 hours before expiry."""
        return await shelf_life.add_rule(store_id, data, actor=actor.name)

    @delete("/markdown-rules/{rule_id:int}", operation_id="deleteMarkdownRule", guards=[MANAGER])
    async def delete_rule(
        self,
        store_id: FromPath[RowId],
        rule_id: FromPath[RowId],
        actor: NamedDependency[StaffActor],
    ) -> None:
        """Retire a rule: it stops applying and stays listed with `include_retired=true`."""
        await shelf_life.retire_rule(store_id, rule_id, actor=actor.name)

    @put("/thresholds/{product_id:int}", operation_id="setThreshold", guards=[MANAGER])
    async def threshold(
        self, store_id: FromPath[RowId], product_id: FromPath[RowId], data: JSONBody[ThresholdIn]
    ) -> ThresholdOut:
        """Alert below `min_level`, restock up to `target_level`."""
        return await replenishment.set_threshold(store_id, product_id, data)

    @get("/low-stock", operation_id="lowStock", guards=[STOCK_STAFF])
    async def low_stock(self, store_id: FromPath[RowId]) -> list[LowStockOut]:
        """Low-stock alerts with suggested restock quantities."""
        return await replenishment.low_stock(store_id)

    @post("/restock-orders", operation_id="placeRestockOrders", guards=[MANAGER])
    async def place(
        self,
        store_id: FromPath[RowId],
        data: JSONBody[RestockOrderIn],
        actor: NamedDependency[StaffActor],
        idempotency_key: OptionalIdempotencyKey = None,
    ) -> list[RestockOrderOut]:
        """Order goods: one restock order per supplier."""
        return await replenishment.place_orders(
            store_id, data, actor=actor.name, idempotency_key=idempotency_key
        )

    @get("/restock-orders", operation_id="storeRestockOrders", guards=[STOCK_STAFF])
    async def orders(self, store_id: FromPath[RowId]) -> list[RestockOrderOut]:
        """The store's restock orders, newest first, with what was received of each line."""
        return await replenishment.restock_orders(store_id=store_id)

    @post(
        "/restock-orders/{order_id:int}/cancel",
        operation_id="cancelRestockOrder",
        guards=[MANAGER],
        status_code=HTTP_200_OK,
    )
    async def cancel_order(
        self,
        store_id: FromPath[RowId],
        order_id: FromPath[RowId],
        actor: NamedDependency[StaffActor],
    ) -> RestockOrderOut:
        """Cancel an order no notice has shipped yet; sending it again changes nothing."""
        return await replenishment.cancel_order(store_id, order_id, actor=actor.name)

    @post(
        "/restock-orders/{order_id:int}/close",
        operation_id="closeRestockOrder",
        guards=[MANAGER],
        status_code=HTTP_200_OK,
    )
    async def close_order(
        self,
        store_id: FromPath[RowId],
        order_id: FromPath[RowId],
        actor: NamedDependency[StaffActor],
    ) -> RestockOrderOut:
        """Close a shipped or partly received order short; sending it again changes nothing.

        The rest will not come: it is no longer counted on order.
        """
        return await replenishment.close_order(store_id, order_id, actor=actor.name)

    @get("/shipment-notices", operation_id="shipmentNotices", guards=[STOCK_STAFF])
    async def notices(self, store_id: FromPath[RowId]) -> list[ShipmentNoticeOut]:
        """Shipment notices on their way here, not yet received."""
        return await notices.store_notices(store_id)


class TabletController(Controller):
    path = "/api/stores/{store_id:int}/inventory"
    tags = ("inventory",)
    guards = (STOCK_STAFF,)
    dependencies = {"actor": STAFF_ACTOR}

    @post("/receivings", operation_id="startReceiving")
    async def start_receiving(
        self,
        store_id: FromPath[RowId],
        data: JSONBody[ReceivingStartIn],
        actor: NamedDependency[StaffActor],
        idempotency_key: OptionalIdempotencyKey = None,
    ) -> ReceivingOut:
        """Open a receiving, from a shipment notice or blank."""
        return await receiving.start(
            store_id, data, actor=actor.name, idempotency_key=idempotency_key
        )

    @get("/receivings/{receiving_id:int}", operation_id="getReceiving")
    async def get_receiving(
        self, store_id: FromPath[RowId], receiving_id: FromPath[RowId]
    ) -> ReceivingOut:
        """A receiving with its lines and discrepancies."""
        return await receiving.get_receiving(store_id, receiving_id)

    @post("/receivings/{receiving_id:int}/scans", operation_id="scanReceived")
    async def scan_received(
        self,
        store_id: FromPath[RowId],
        receiving_id: FromPath[RowId],
        data: JSONBody[ReceivingScanIn],
        actor: NamedDependency[StaffActor],
        idempotency_key: OptionalIdempotencyKey = None,
    ) -> ReceivingOut:
        """Add scanned units, with their lot and dates; a repeated key adds nothing."""
        return await receiving.scan(
            store_id, receiving_id, data, actor=actor.name, idempotency_key=idempotency_key
        )

    @put("/receivings/{receiving_id:int}/lines/{line_id:int}", operation_id="confirmReceivedLine")
    async def set_line(
        self,
        store_id: FromPath[RowId],
        receiving_id: FromPath[RowId],
        line_id: FromPath[RowId],
        data: JSONBody[ReceivingLineIn],
        actor: NamedDependency[StaffActor],
    ) -> ReceivingOut:
        """Confirm a line's quantity, noting a discrepancy; correct its lot or dates."""
        return await receiving.set_line(store_id, receiving_id, line_id, data, actor=actor.name)

    @post(
        "/receivings/{receiving_id:int}/confirm",
        operation_id="confirmReceiving",
        status_code=HTTP_200_OK,
    )
    async def confirm(
        self,
        store_id: FromPath[RowId],
        receiving_id: FromPath[RowId],
        actor: NamedDependency[StaffActor],
    ) -> ReceivingOut:
        """Post the receipts; sending it again posts nothing more."""
        return await receiving.confirm(store_id, receiving_id, actor=actor.name)

    @post("/counts", operation_id="startCount")
    async def start_count(
        self,
        store_id: FromPath[RowId],
        actor: NamedDependency[StaffActor],
        idempotency_key: OptionalIdempotencyKey = None,
    ) -> CountOut:
        """Open a stock count; a repeated key opens none and answers the first."""
        return await counts.start(store_id, actor=actor.name, idempotency_key=idempotency_key)

    @get("/counts/{count_id:int}", operation_id="getCount")
    async def get_count(self, store_id: FromPath[RowId], count_id: FromPath[RowId]) -> CountOut:
        """The count with its variance report."""
        return await counts.get_count(store_id, count_id)

    @post("/counts/{count_id:int}/scans", operation_id="scanCounted")
    async def scan_counted(
        self,
        store_id: FromPath[RowId],
        count_id: FromPath[RowId],
        data: JSONBody[CountScanIn],
        idempotency_key: OptionalIdempotencyKey = None,
    ) -> CountOut:
        """Add counted units of a product; a repeated key adds nothing."""
        return await counts.scan(store_id, count_id, data, idempotency_key=idempotency_key)

    @post("/counts/{count_id:int}/finish", operation_id="finishCount", status_code=HTTP_200_OK)
    async def finish(
        self,
        store_id: FromPath[RowId],
        count_id: FromPath[RowId],
        actor: NamedDependency[StaffActor],
    ) -> CountOut:
        """Post the counts as corrections; sending it again posts nothing more."""
        return await counts.finish(store_id, count_id, actor=actor.name)
