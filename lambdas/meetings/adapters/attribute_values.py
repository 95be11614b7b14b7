"""Plain Python values ↔ DynamoDB attribute values, by the rules of boto3's `TypeSerializer`
and `TypeDeserializer` (boto3.dynamodb.types), without importing boto3.

Importing anything from boto3 runs boto3's package import, which pulls in s3transfer and
multiprocessing: a tenth of every function's cold start for code no function runs. The clients
come from botocore (adapters/aws_clients.py) and the items are converted here. Dispatch by exact
type first also makes a conversion several times cheaper than boto3's chain of isinstance checks,
and every write and read of the table converts each attribute.

Numbers: `int` and `Decimal` (38 digits at most, as DynamoDB stores them); a `float` is refused,
as by boto3, because its binary value is not the decimal it prints as. Numbers read back are
`Decimal`. Binary values are written from `bytes`/`bytearray` and read back as `bytes`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Set
from decimal import Clamped, Context, Decimal, Inexact, Overflow, Rounded, Underflow
from typing import Any, Final

# DynamoDB's number range and precision; an inexact or rounded number is an error.
_NUMBERS: Final = Context(
    Emin=-128,
    Emax=126,
    prec=38,
    traps=[Clamped, Overflow, Inexact, Rounded, Underflow],
)


def _number(value: int | Decimal) -> str:
    text = str(_NUMBERS.create_decimal(value))
    if text in {"Infinity", "-Infinity", "NaN", "-NaN", "sNaN", "-sNaN"}:
        raise TypeError(f"Infinity and NaN not supported: {value}")
    return text


def _refuse_float(value: float) -> dict[str, Any]:
    raise TypeError("Float types are not supported. Use Decimal types instead.")


def _set(values: Set[Any]) -> dict[str, Any]:
    if values and all(isinstance(v, int | Decimal) and not isinstance(v, bool) for v in values):
        return {"NS": [_number(v) for v in values]}
    if values and all(isinstance(v, str) for v in values):
        return {"SS": list(values)}
    if values and all(isinstance(v, bytes | bytearray) for v in values):
        return {"BS": [bytes(v) for v in values]}
    return _unsupported(values)


_BY_TYPE: Final[dict[type, Callable[[Any], dict[str, Any]]]] = {
    str: lambda value: {"S": value},
    bool: lambda value: {"BOOL": value},
    int: lambda value: {"N": _number(value)},
    Decimal: lambda value: {"N": _number(value)},
    type(None): lambda _: {"NULL": True},
    dict: lambda value: {"M": {key: serialize(inner) for key, inner in value.items()}},
    list: lambda value: {"L": [serialize(inner) for inner in value]},
    tuple: lambda value: {"L": [serialize(inner) for inner in value]},
    bytes: lambda value: {"B": value},
    bytearray: lambda value: {"B": bytes(value)},
    set: _set,
    frozenset: _set,
    float: _refuse_float,
}


# Subclasses (a StrEnum, an IntEnum, a Mapping that is not a dict), by what they are.
_BY_KIND: Final[tuple[tuple[type | tuple[type, ...], Callable[[Any], dict[str, Any]]], ...]] = (
    (bool, lambda value: {"BOOL": bool(value)}),
    (str, lambda value: {"S": str(value)}),
    ((int, Decimal), lambda value: {"N": _number(value)}),
    (float, _refuse_float),
    ((bytes, bytearray), lambda value: {"B": bytes(value)}),
    (Set, _set),
    (Mapping, lambda value: {"M": {key: serialize(inner) for key, inner in value.items()}}),
    ((list, tuple), lambda value: {"L": [serialize(inner) for inner in value]}),
)


def serialize(value: Any) -> dict[str, Any]:
    """One plain value as an attribute value (`{"S": ...}`, `{"M": {...}}`, ...)."""
    kind = type(value)
    convert = _BY_TYPE.get(kind) or _BY_SUBCLASS.get(kind)
    if convert is None:
        convert = _BY_SUBCLASS[kind] = next(
            (c for base, c in _BY_KIND if issubclass(kind, base)), _unsupported
        )
    return convert(value)


# A subclass's converter, found once per type: the records' enums are in every item written.
_BY_SUBCLASS: Final[dict[type, Callable[[Any], dict[str, Any]]]] = {}


def _unsupported(value: Any) -> dict[str, Any]:
    raise TypeError(f'Unsupported type "{type(value)}" for value "{value}"')


_FROM_TAG: Final[dict[str, Callable[[Any], Any]]] = {
    "S": lambda value: value,
    "N": Decimal,
    "BOOL": lambda value: value,
    "NULL": lambda _: None,
    "M": lambda value: {key: deserialize(inner) for key, inner in value.items()},
    "L": lambda value: [deserialize(inner) for inner in value],
    "B": bytes,
    "SS": set,
    "NS": lambda values: {Decimal(value) for value in values},
    "BS": lambda values: {bytes(value) for value in values},
}


def deserialize(attribute_value: Mapping[str, Any]) -> Any:
    """One attribute value as a plain value."""
    if len(attribute_value) != 1:
        raise TypeError(
            f"Value must be a nonempty dictionary whose key is a valid type: {attribute_value}"
        )
    ((tag, value),) = attribute_value.items()
    convert = _FROM_TAG.get(tag)
    if convert is None:
        raise TypeError(f"Dynamodb type {tag} is not supported")
    return convert(value)


def _plain_number(text: str) -> int | float:
    """Most numbers the table holds are integers: `int` first."""
    try:
        return int(text)
    except ValueError:
        number = Decimal(text)
        return int(number) if number == number.to_integral_value() else float(number)


def _plain_map(value: Mapping[str, Any]) -> dict[str, Any]:
    return {key: plain_value(inner) for key, inner in value.items()}


def _plain_list(value: list[Any]) -> list[Any]:
    return [plain_value(inner) for inner in value]


_PLAIN_FROM_TAG: Final[dict[str, Any]] = {
    "S": str,
    "N": _plain_number,
    "BOOL": bool,
    "NULL": lambda _: None,
    "M": _plain_map,
    "L": _plain_list,
    "B": bytes,
    "SS": list,
    "NS": lambda values: [_plain_number(value) for value in values],
    "BS": lambda values: [bytes(value) for value in values],
}


def plain_value(attribute_value: Mapping[str, Any]) -> Any:
    """One attribute value as a plain value, as `deserialize` and then numbers as `int` (or
    `float` when not integral) and sets as lists, in one pass: what the table's records hold.
    Every read converts each attribute of its items, nested maps included."""
    if len(attribute_value) != 1:
        raise TypeError(
            f"Value must be a nonempty dictionary whose key is a valid type: {attribute_value}"
        )
    text = attribute_value.get("S")
    if text is not None:  # most attributes are strings: the fast way first
        return text
    ((tag, value),) = attribute_value.items()
    convert = _PLAIN_FROM_TAG.get(tag)
    if convert is None:
        raise TypeError(f"Dynamodb type {tag} is not supported")
    return convert(value)
