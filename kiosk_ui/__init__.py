"""Templates, static files and message catalogs of the shopper, kiosk and staff pages."""

from __future__ import annotations

from pathlib import Path

__all__ = ["LOCALES", "STATIC", "TEMPLATES"]

_HERE = Path(__file__).parent
TEMPLATES = _HERE / "templates"
STATIC = _HERE / "static"
LOCALES = _HERE / "locales"
