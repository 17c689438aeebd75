"""The demo's files, as tests load or change them."""

from __future__ import annotations

import json
from pathlib import Path

from pos.stores.schemas import StoreLayout

__all__ = ["DEMO", "demo_layout"]

DEMO = Path(__file__).parents[2] / "fixtures" / "demo"


def demo_layout(store_code: str) -> StoreLayout:
    """The store's layout as the demo's stores.json describes it."""
    layouts = json.loads((DEMO / "stores.json").read_text(encoding="utf-8"))
    return StoreLayout.model_validate(next(s for s in layouts if s["code"] == store_code))
