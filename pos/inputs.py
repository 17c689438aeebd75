"""The base of request bodies and files: a number is a number, never `true` or `false`.

Litestar validates bodies in Pydantic's lax mode (and overrides any `strict` a field asks
for), where JSON `true` is the integer 1: a refund of `"amount_fen": true` would pay back one
fen. Every other lax conversion of a JSON value is harmless, so only booleans are refused.
"""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationInfo, field_validator

__all__ = ["Input"]


class Input(BaseModel):
    """A request body whose fields take a boolean only where they are declared `bool`."""

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name is None or not _holds_boolean(value):
            return value
        if not _admits_boolean(cls.model_fields[info.field_name].annotation):
            raise ValueError("must be a number, not true or false")
        return value


def _holds_boolean(value: Any) -> bool:
    if isinstance(value, list):
        return any(isinstance(item, bool) for item in value)
    return isinstance(value, bool)


def _admits_boolean(annotation: Any) -> bool:
    """Whether `bool` appears in the type, e.g. `bool | None` (nested models check their own)."""
    if annotation is bool:
        return True
    if get_origin(annotation) in (Union, types.UnionType, list):
        return any(_admits_boolean(arg) for arg in get_args(annotation))
    return False
