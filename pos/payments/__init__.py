"""Payments: the provider interface, the sandbox provider, notifications, polling, refunds."""
