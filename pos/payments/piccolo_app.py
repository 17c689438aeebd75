"""Piccolo app: the payment tables and their migrations."""

from __future__ import annotations

import os

from piccolo.conf.apps import AppConfig

from pos.payments.tables import (
    Payment,
    PaymentNotification,
    Refund,
    RefundCheck,
    SandboxPayment,
    SandboxRefund,
)

APP_CONFIG = AppConfig(
    app_name="payments",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[
        Payment,
        PaymentNotification,
        Refund,
        RefundCheck,
        SandboxPayment,
        SandboxRefund,
    ],
    migration_dependencies=[
        "pos.orders.piccolo_app",
        "pos.staff.piccolo_app",
        "pos.stores.piccolo_app",
    ],
)
