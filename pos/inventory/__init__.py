"""Inventory: per-store stock of each product, and the holds unpaid orders put on it."""
