"""Piccolo app: the outbox table and its migrations."""

from __future__ import annotations

import os

from piccolo.conf.apps import AppConfig

from pos.events.tables import OutboxEvent

APP_CONFIG = AppConfig(
    app_name="events",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[OutboxEvent],
    migration_dependencies=[],
)
