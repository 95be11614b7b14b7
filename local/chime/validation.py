"""Request validation derived from the model's shapes: required members, types, lengths,
list sizes, numeric ranges, enums and the patterns the model carries.

Messages follow AWS's validation wording, without echoing values (many members are
`sensitive` in the model).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from local.chime.errors import bad_request


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    # The service reads its model's patterns with Java's regex: `\s` and `\w` are ASCII there,
    # Unicode in Python unless told otherwise.
    return re.compile(pattern, re.ASCII)


def validate(shape: StructureShape, params: dict[str, Any]) -> None:
    """Raise BadRequest listing every constraint `params` breaks."""
    problems: list[str] = []
    _check(shape, params, "", problems)
    if problems:
        count = len(problems)
        noun = "error" if count == 1 else "errors"
        raise bad_request(f"{count} validation {noun} detected: " + "; ".join(problems))


def _check(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    checker = _CHECKERS.get(shape.type_name)
    if checker is not None:
        checker(shape, value, path, problems)


def _fail(path: str, constraint: str, problems: list[str]) -> None:
    problems.append(f"Value at '{path or 'request'}' failed to satisfy constraint: {constraint}")


def _check_structure(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    assert isinstance(shape, StructureShape)
    if not isinstance(value, dict):
        _fail(path, "Member must be an object", problems)
        return
    for name in shape.required_members:
        if value.get(name) is None:
            _fail(_join(path, name), "Member must not be null", problems)
    for name, member in shape.members.items():
        if value.get(name) is not None:
            _check(member, value[name], _join(path, name), problems)


def _check_list(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    assert isinstance(shape, ListShape)
    if not isinstance(value, list):
        _fail(path, "Member must be a list", problems)
        return
    _check_size(shape, len(value), path, "length", problems)
    for index, item in enumerate(value, start=1):
        _check(shape.member, item, f"{path}.{index}", problems)


def _check_map(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    assert isinstance(shape, MapShape)
    if not isinstance(value, dict):
        _fail(path, "Member must be a map", problems)
        return
    for key, item in value.items():
        _check(shape.key, key, f"{path}.key", problems)
        _check(shape.value, item, f"{path}.{key}", problems)


def _check_string(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    if not isinstance(value, str):
        _fail(path, "Member must be a string", problems)
        return
    _check_size(shape, len(value), path, "length", problems)
    enum = shape.metadata.get("enum")
    if enum and value not in enum:
        _fail(path, f"Member must satisfy enum value set: [{', '.join(enum)}]", problems)
    pattern = shape.metadata.get("pattern")
    if pattern and _compiled(pattern).fullmatch(value) is None:
        _fail(path, f"Member must satisfy regular expression pattern: {pattern}", problems)


def _check_integer(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(path, "Member must be an integer", problems)
        return
    _check_size(shape, value, path, "value", problems)


def _check_boolean(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    if not isinstance(value, bool):
        _fail(path, "Member must be a boolean", problems)


def _check_size(shape: Shape, size: int, path: str, what: str, problems: list[str]) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    noun = "length" if what == "length" else "value"
    if low is not None and size < low:
        _fail(path, f"Member must have {noun} greater than or equal to {low}", problems)
    if high is not None and size > high:
        _fail(path, f"Member must have {noun} less than or equal to {high}", problems)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


_CHECKERS = {
    "structure": _check_structure,
    "list": _check_list,
    "map": _check_map,
    "string": _check_string,
    "integer": _check_integer,
    "long": _check_integer,
    "boolean": _check_boolean,
}
