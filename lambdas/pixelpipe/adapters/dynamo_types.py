"""Plain Python values <-> DynamoDB's typed JSON, floats included (boto3 wants Decimal)."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Any


@cache
def _converters() -> tuple[Any, Any]:
    """boto3's (de)serializer, made on first use: importing boto3 is most of a client's cold-start cost,
    which pixelpipe.aws_clients defers to the first call (module-level tools, made once, lazily)."""
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    return TypeSerializer(), TypeDeserializer()


def _to_dynamo_numbers(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _to_dynamo_numbers(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_dynamo_numbers(v) for v in value]
    return value


def _from_dynamo_numbers(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo_numbers(v) for v in value]
    if isinstance(value, set):
        return sorted(_from_dynamo_numbers(v) for v in value)
    return value


def to_typed(value: Any) -> dict[str, Any]:
    return _converters()[0].serialize(_to_dynamo_numbers(value))


def to_item(record: dict[str, Any]) -> dict[str, Any]:
    return {k: to_typed(v) for k, v in record.items()}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _from_dynamo_numbers(_converters()[1].deserialize(v)) for k, v in item.items()}
