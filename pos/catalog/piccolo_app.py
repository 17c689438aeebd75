"""Piccolo app: the catalog tables and their migrations."""

from __future__ import annotations

import os

from piccolo.conf.apps import AppConfig

from pos.catalog.tables import (
    CatalogRevision,
    County,
    Product,
    ProductPriceChange,
    Province,
    Supplier,
)

APP_CONFIG = AppConfig(
    app_name="catalog",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[Province, County, Supplier, Product, ProductPriceChange, CatalogRevision],
)
