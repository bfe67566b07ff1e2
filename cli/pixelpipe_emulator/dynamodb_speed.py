"""moto's DynamoDB, with the same answers, in a fraction of the time.

Sorting. DynamoDB reads a Query's page from an index that is already sorted; moto sorts the whole table
by primary key on every Query and Scan, then every candidate item by the index's keys, comparing
`DynamoType`s, whose every comparison recomputes `cast_value` through five `is_*` checks. Profiled on
the jobs page's Query (9,000 jobs of one status, Limit 26): 3.3 s of 3.5 s in those comparisons.
Here the sorts use plain values as keys (computed once per item, compared in C) and `cast_value`
answers scalars first. Key attributes are S, N or B, and both sorts order by exactly the values moto's
own comparisons use (`cast_value`), so the order is the same.

Responses. moto writes every response by walking the operation's output shape in botocore's model:
133 ms of a 205 ms Query returning 26 job records. The item operations' results are already in
DynamoDB's wire form (AttributeValue maps) but for binary values, so they are written with
`json.dumps`, binary as base64, as the shape walk writes them; the walk still picks the members of
the structures around the items, but stops at each AttributeValue.

`tests/unit/test_emulator_dynamodb_speed.py` asks random tables the same Queries, Scans and item
calls both ways and compares the answers.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from moto.core.responses import ActionContext, ActionResult
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoResult

# Operations whose output is items and counts only (no timestamps, no shape-specific renames).
ITEM_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)
_JSON_HEADERS = {"Content-Type": "application/x-amz-json-1.0"}

_original_cast_value = DynamoType.cast_value.fget  # type: ignore[attr-defined]
_original_all_items = Table.all_items
_original_sorted_items = Table.sorted_items
_original_execute_result = ActionResult.execute_result


def _cast_value(self: DynamoType) -> Any:
    kind = self.type
    if kind == "S" or kind == "B" or kind == "BOOL":
        return self.value
    if kind == "N":
        return Decimal(self.value)
    return _original_cast_value(self)


def _all_items(self: Table) -> list[Any]:
    items: list[Any] = []
    for hash_set in self.items.values():
        if self.range_key_attr:
            items.extend(hash_set.values())
        else:
            items.append(hash_set)
    return sorted(
        items,
        key=lambda x: (
            (x.hash_key.cast_value, x.range_key.cast_value) if x.range_key else x.hash_key.cast_value
        ),
    )


def _sorted_items(
    self: Table, hash_key_attrs: list[str], range_key_attrs: list[str | None], items: list[Any]
):
    attributes = self._generate_attr_to_sort_by(hash_key_attrs, range_key_attrs)
    items.sort(key=lambda x: tuple(x.attrs[name].cast_value for name in attributes))
    return items


def _binary(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not part of an item operation's output")


def fast_json(result: ActionResult, context: ActionContext) -> tuple[int, dict[str, str], str] | None:
    """The response of an item operation, written directly; None for any other (the shape walk's)."""
    if (
        type(result) in (ActionResult, DynamoResult)  # not a PaginatedResult: it pages while writing
        and context.service_model.service_name == "dynamodb"
        and context.operation_model.name in ITEM_OPERATIONS
        and isinstance(result.result, dict)
    ):
        body = _trim(result.result, context.operation_model.output_shape)
        return 200, dict(_JSON_HEADERS), json.dumps(body, default=_binary)
    return None


def _trim(value: Any, shape: Any) -> Any:
    """Only the members the output shape has (moto's results carry extra keys, e.g. DeleteItem's
    ConsumedCapacityUnits), without None; an AttributeValue is taken as it is, which is the saving."""
    kind = shape.type_name
    if kind == "structure":
        if shape.name == "AttributeValue":
            return value
        members = shape.members
        return {k: _trim(v, members[k]) for k, v in value.items() if k in members and v is not None}
    if kind == "list":
        return [_trim(v, shape.member) for v in value]
    if kind == "map":
        return {k: _trim(v, shape.value) for k, v in value.items()}
    return value


def _execute_result(self: ActionResult, context: ActionContext) -> Any:
    return fast_json(self, context) or _original_execute_result(self, context)


def install() -> None:
    DynamoType.cast_value = property(_cast_value)  # type: ignore[method-assign,assignment]
    Table.all_items = _all_items  # type: ignore[method-assign]
    Table.sorted_items = _sorted_items  # type: ignore[method-assign]
    ActionResult.execute_result = _execute_result  # type: ignore[method-assign]


def uninstall() -> None:
    DynamoType.cast_value = property(_original_cast_value)  # type: ignore[method-assign,assignment]
    Table.all_items = _original_all_items  # type: ignore[method-assign]
    Table.sorted_items = _original_sorted_items  # type: ignore[method-assign]
    ActionResult.execute_result = _original_execute_result  # type: ignore[method-assign]


@contextmanager
def installed() -> Iterator[None]:
    install()
    try:
        yield
    finally:
        uninstall()
