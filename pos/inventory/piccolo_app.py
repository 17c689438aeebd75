"""Piccolo app: the inventory tables and their migrations."""

from __future__ import annotations

import os

from piccolo.conf.apps import AppConfig

from pos.inventory.tables import (
    CountLine,
    CountSession,
    MarkdownRule,
    ReceivingLine,
    ReceivingSession,
    ReorderRule,
    RestockOrder,
    RestockOrderLine,
    ScanKey,
    ShipmentLine,
    ShipmentNotice,
    StockBatch,
    StockLevel,
    StockMovement,
    SupplierFeed,
    SupplierStock,
)

APP_CONFIG = AppConfig(
    app_name="inventory",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[
        StockLevel,
        StockBatch,
        StockMovement,
        MarkdownRule,
        ReorderRule,
        SupplierStock,
        SupplierFeed,
        ShipmentNotice,
        ShipmentLine,
        ReceivingSession,
        ReceivingLine,
        CountSession,
        CountLine,
        RestockOrder,
        RestockOrderLine,
        ScanKey,
    ],
    migration_dependencies=["pos.catalog.piccolo_app", "pos.stores.piccolo_app"],
)
