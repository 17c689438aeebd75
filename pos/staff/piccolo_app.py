"""Piccolo app: the staff tables and their migrations."""

from __future__ import annotations

import os

from piccolo.conf.apps import AppConfig

from pos.staff.tables import DeviceToken, Role, StaffSession, StaffUser, SupplierKey

APP_CONFIG = AppConfig(
    app_name="staff",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[StaffUser, Role, StaffSession, DeviceToken, SupplierKey],
    migration_dependencies=["pos.catalog.piccolo_app", "pos.stores.piccolo_app"],
)
