"""Piccolo app: the print tables and their migrations."""

from __future__ import annotations

import os

from piccolo.conf.apps import AppConfig

from pos.printing.tables import PrinterState, PrintJob, PrintJobKey

APP_CONFIG = AppConfig(
    app_name="printing",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[PrintJob, PrintJobKey, PrinterState],
    migration_dependencies=["pos.stores.piccolo_app", "pos.orders.piccolo_app"],
)
