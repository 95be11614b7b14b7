"""The table's item conversion gives what boto3's TypeSerializer/TypeDeserializer give, for
every kind of value the table holds, and refuses what they refuse."""

from __future__ import annotations

from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Any

import pytest
from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer
from meetings.adapters.attribute_values import deserialize, plain_value, serialize


class Colour(StrEnum):
    RED = "red"


class Level(IntEnum):
    HIGH = 3


VALUES: list[Any] = [
    "text",
    "",
    0,
    -17,
    10**37,
    Decimal("1.50"),
    Decimal("-0.001"),
    True,
    False,
    None,
    b"\x00\xff",
    bytearray(b"ab"),
    {"a": 1, "b": ["x", {"c": None}], "d": {"e": True}},
    ["x", 2, [3, "y"], {"z": b"q"}],
    ("tuple", 1),
    {"one", "two"},
    {1, 2, Decimal("3.5")},
    {b"a", b"b"},
    Colour.RED,
    Level.HIGH,
    {"nested": [Colour.RED, Level.HIGH]},
]


def stable_id(value: Any) -> str:
    """A set's repr follows string hashing, which differs between processes: pytest-xdist's
    workers must collect the same ids."""
    if isinstance(value, set | frozenset):
        return "{" + ", ".join(sorted(map(repr, value))) + "}"
    return repr(value)


@pytest.mark.parametrize("value", VALUES, ids=stable_id)
def test_serializes_as_boto3_does(value: Any) -> None:
    ours, theirs = serialize(value), TypeSerializer().serialize(value)
    for set_tag in ("SS", "NS", "BS"):
        if set_tag in theirs:  # a set's order is arbitrary
            assert sorted(ours[set_tag]) == sorted(theirs[set_tag])
            return
    assert ours == theirs


@pytest.mark.parametrize("value", VALUES, ids=stable_id)
def test_reads_back_what_boto3_reads_back(value: Any) -> None:
    attribute_value = TypeSerializer().serialize(value)
    theirs = TypeDeserializer().deserialize(attribute_value)
    assert deserialize(attribute_value) == _bytes_for_binary(theirs)


@pytest.mark.parametrize(
    "value", [1.5, float("nan"), Decimal("Infinity"), Decimal("NaN"), 10**40, object(), {1, "a"}]
)
def test_refuses_what_boto3_refuses(value: Any) -> None:
    with pytest.raises((TypeError, ArithmeticError)) as theirs:
        TypeSerializer().serialize(value)
    with pytest.raises(theirs.type):
        serialize(value)


@pytest.mark.parametrize("attribute_value", [{}, {"S": "a", "N": "1"}, {"X": "?"}])
def test_refuses_malformed_attribute_values(attribute_value: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        deserialize(attribute_value)
    with pytest.raises(TypeError):
        plain_value(attribute_value)


def _as_record_holds(value: Any) -> Any:
    """What the records hold of a deserialized value: integral numbers as int, others as
    float, sets as (sorted) lists."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _as_record_holds(inner) for key, inner in value.items()}
    if isinstance(value, set | frozenset):
        return sorted(_as_record_holds(inner) for inner in value)
    if isinstance(value, list):
        return [_as_record_holds(inner) for inner in value]
    return value


@pytest.mark.parametrize("value", VALUES, ids=stable_id)
def test_plain_value_is_deserialize_then_plain_numbers_and_lists(value: Any) -> None:
    attribute_value = serialize(value)
    plain = plain_value(attribute_value)
    if isinstance(value, set | frozenset):
        plain = sorted(plain)
    assert plain == _as_record_holds(deserialize(attribute_value))
    assert type(plain) is type(_as_record_holds(deserialize(attribute_value)))


@pytest.mark.parametrize("text", ["7", "-0", "1E+3", "1.50", "-0.001", "1" + "0" * 37])
def test_plain_numbers_are_int_when_integral(text: str) -> None:
    number, exact = plain_value({"N": text}), Decimal(text)
    integral = exact == exact.to_integral_value()
    assert type(number) is (int if integral else float)
    assert number == (int(exact) if integral else float(exact))


def _bytes_for_binary(value: Any) -> Any:
    if isinstance(value, Binary):
        return value.value
    if isinstance(value, dict):
        return {key: _bytes_for_binary(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_bytes_for_binary(inner) for inner in value]
    if isinstance(value, set):
        return {_bytes_for_binary(inner) for inner in value}
    return value
