"""Piccolo app: the analytics rollups, buyers, members and ratings, and their migrations."""

from __future__ import annotations

import os

from piccolo.conf.apps import AppConfig

from pos.analytics.tables import (
    Buyer,
    BuyerCounty,
    BuyerProduct,
    Member,
    PayerLink,
    Purchase,
    Rating,
    RatingModeration,
    SalesDay,
    StoreRegion,
)

APP_CONFIG = AppConfig(
    app_name="analytics",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[
        Purchase,
        SalesDay,
        Buyer,
        BuyerProduct,
        BuyerCounty,
        StoreRegion,
        Member,
        PayerLink,
        Rating,
        RatingModeration,
    ],
    migration_dependencies=[
        "pos.catalog.piccolo_app",
        "pos.stores.piccolo_app",
        "pos.orders.piccolo_app",
    ],
)
