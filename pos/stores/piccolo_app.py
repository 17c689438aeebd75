"""Piccolo app: the store tables and their migrations."""

from __future__ import annotations

import os

from piccolo.conf.apps import AppConfig

from pos.stores.tables import Counter, Device, Listing, ListingPriceChange, Printer, Store

APP_CONFIG = AppConfig(
    app_name="stores",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[Store, Printer, Counter, Device, Listing, ListingPriceChange],
    migration_dependencies=["pos.catalog.piccolo_app"],
)
