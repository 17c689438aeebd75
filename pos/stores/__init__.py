"""Stores, zones, counters, kiosk devices, printers and what each store lists."""
