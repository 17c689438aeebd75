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
        if info.field_name is None:
            return value
        if _misplaced_boolean(value, cls.model_fields[info.field_name].annotation):
            raise ValueError("must be a number, not true or false")
        return value


def _misplaced_boolean(value: Any, annotation: Any) -> bool:
    """Whether `value` holds a boolean where `annotation` takes none (models check their own)."""
    if isinstance(value, bool):
        return bool not in _alternatives(annotation)
    if isinstance(value, list | dict):
        container = list if isinstance(value, list) else dict
        items = value if isinstance(value, list) else list(value.values())
        inner = _item_type(annotation, container)
        return inner is not None and any(_misplaced_boolean(item, inner) for item in items)
    return False


def _alternatives(annotation: Any) -> tuple[Any, ...]:
    """The types a union allows (`int | None`: int and None), or the type itself."""
    if get_origin(annotation) in (Union, types.UnionType):
        return get_args(annotation)
    return (annotation,)


def _item_type(annotation: Any, container: type) -> Any | None:
    """The type of the items of the `container` (list, dict: its values) the annotation allows."""
    for alternative in _alternatives(annotation):
        if get_origin(alternative) is container:
            return get_args(alternative)[-1]
    return None
