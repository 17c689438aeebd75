"""Piccolo app: the certified-transaction table and its migrations."""

from __future__ import annotations

import os

from piccolo.conf.apps import AppConfig

from pos.platform.tables import CertifiedTransaction

APP_CONFIG = AppConfig(
    app_name="platform",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[CertifiedTransaction],
    migration_dependencies=[],
)
