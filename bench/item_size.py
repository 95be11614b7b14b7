"""DynamoDB's size of an item, as it counts it for the 400 KB limit and for write units.

The rules AWS documents: an attribute costs its name's UTF-8 bytes plus its value's; a string
its UTF-8 bytes; a number about one byte per two significant digits plus one; a binary its
bytes; a boolean or null one byte; a set the sum of its elements; a list or map 3 bytes plus
one byte per element plus the elements (and, for a map, its keys).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, Final

ITEM_SIZE_LIMIT: Final = 400 * 1024


def _number_size(text: str) -> int:
    digits = text.lstrip("-").replace(".", "").lstrip("0").rstrip("0") or "0"
    return (len(digits) + 1) // 2 + 1


def value_size(value: Mapping[str, Any]) -> int:
    ((kind, content),) = value.items()
    if kind == "S":
        return len(content.encode())
    if kind == "N":
        return _number_size(content)
    if kind == "B":
        return len(content if isinstance(content, bytes) else base64.b64decode(content))
    if kind in {"BOOL", "NULL"}:
        return 1
    if kind == "SS":
        return sum(len(text.encode()) for text in content)
    if kind == "NS":
        return sum(_number_size(text) for text in content)
    if kind == "BS":
        return sum(len(blob) for blob in content)
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in content)
    if kind == "M":
        return 3 + sum(1 + len(key.encode()) + value_size(v) for key, v in content.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    """The item's size in bytes (attribute names and values), in the low-level format."""
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())
