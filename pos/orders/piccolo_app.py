"""Piccolo app: the order tables and their migrations."""

from __future__ import annotations

import os

from piccolo.conf.apps import AppConfig

from pos.orders.tables import Order, OrderLine, OrderTransition, Plu

APP_CONFIG = AppConfig(
    app_name="orders",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[Order, OrderLine, OrderTransition, Plu],
    # Inventory too: a migration fills in `orders.restocked` from the stock ledger.
    migration_dependencies=[
        "pos.catalog.piccolo_app",
        "pos.inventory.piccolo_app",
        "pos.stores.piccolo_app",
    ],
)
