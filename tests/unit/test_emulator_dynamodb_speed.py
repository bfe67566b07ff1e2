"""The emulator's faster DynamoDB sorting answers every Query and Scan exactly as moto's own does.

Random tables (string and number keys, a hash-only and a hash+range table, indexes with many equal
sort keys so the table's keys break ties), random queries (both directions, limits, paging through
ExclusiveStartKey, key conditions): each is asked with moto's sorting and with the emulator's, and the
answers (items, order, counts, LastEvaluatedKey) must be identical.
"""

from __future__ import annotations

import json
import random

import boto3
import pytest
from moto import mock_aws

from pixelpipe_emulator import dynamodb_speed

REGION = "us-east-1"


def _table(ddb, name: str, range_type: str | None, index_range_type: str) -> None:
    key_schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    attributes = [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "group", "AttributeType": "S"},
        {"AttributeName": "when", "AttributeType": index_range_type},
    ]
    if range_type:
        key_schema.append({"AttributeName": "sk", "KeyType": "RANGE"})
        attributes.append({"AttributeName": "sk", "AttributeType": range_type})
    ddb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=key_schema,
        AttributeDefinitions=attributes,
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-group",
                "KeySchema": [
                    {"AttributeName": "group", "KeyType": "HASH"},
                    {"AttributeName": "when", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )


def _value(rng: random.Random, kind: str) -> dict:
    if kind == "N":
        return {"N": str(rng.choice([rng.randint(-50, 50), round(rng.uniform(-9, 9), 3), 10**20]))}
    return {"S": rng.choice(["a", "ab", "b", "Z", "é", "2026-11-26T00:00:0" + str(rng.randint(0, 9))])}


def _fill(ddb, name: str, rng: random.Random, range_type: str | None, index_range_type: str) -> None:
    for n in range(150):
        item = {
            "pk": {"S": f"p{rng.randint(0, 60)}"},
            "group": {"S": rng.choice(["A", "B", "C"])},
            "payload": {"M": {"n": {"N": str(n)}, "tags": {"SS": ["x", f"t{n % 3}"]}}},
        }
        if rng.random() < 0.9:  # some items are not in the index
            item["when"] = _value(rng, index_range_type)
        if range_type:
            number = rng.randint(0, 20)
            item["sk"] = {"N": str(number)} if range_type == "N" else {"S": f"s{number}"}
        ddb.put_item(TableName=name, Item=item)


def _pages(ddb, **kwargs) -> list[dict]:
    """Every page of a Query or Scan, as returned (ResponseMetadata dropped)."""
    operation = ddb.query if "KeyConditionExpression" in kwargs else ddb.scan
    pages = []
    while len(pages) < 200:  # a wrong order can make ExclusiveStartKey loop
        page = operation(**kwargs)
        page.pop("ResponseMetadata", None)
        pages.append(page)
        if "LastEvaluatedKey" not in page:
            return pages
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    raise AssertionError(f"still paging after 200 pages: {kwargs}")


def _requests(rng: random.Random, name: str, range_type: str | None, index_range_type: str):
    for _ in range(6):
        forward = rng.random() < 0.5
        limit = rng.choice([7, 26, 500])
        group = rng.choice(["A", "B", "C", "D"])
        index = {
            "TableName": name,
            "IndexName": "by-group",
            "ScanIndexForward": forward,
            "Limit": limit,
            "ExpressionAttributeNames": {"#g": "group"},
        }
        by_group = {"KeyConditionExpression": "#g = :g", "ExpressionAttributeValues": {":g": {"S": group}}}
        yield {**index, **by_group}
        bound = _value(rng, index_range_type)
        yield {
            **index,
            "KeyConditionExpression": "#g = :g AND #w < :w",
            "ExpressionAttributeNames": {"#g": "group", "#w": "when"},
            "ExpressionAttributeValues": {":g": {"S": group}, ":w": bound},
        }
        yield {**index, **by_group, "Select": "COUNT"}
        yield {
            "TableName": name,
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": {"S": f"p{rng.randint(0, 60)}"}},
            "ScanIndexForward": forward,
            "Limit": limit,
        }
        yield {"TableName": name, "Limit": limit}  # a Scan: moto orders it by the table's keys


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize(("range_type", "index_range_type"), [(None, "S"), ("N", "S"), ("S", "N")])
def test_queries_and_scans_answer_the_same_with_the_emulators_sorting(seed, range_type, index_range_type):
    rng = random.Random(f"{seed}-{range_type}-{index_range_type}")
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        _table(ddb, "t", range_type, index_range_type)
        _fill(ddb, "t", rng, range_type, index_range_type)
        compared = 0
        for request in _requests(rng, "t", range_type, index_range_type):
            # GIVEN one request, WHEN moto's sorting and the emulator's answer it
            expected = _pages(ddb, **request)
            with dynamodb_speed.installed():
                actual = _pages(ddb, **request)
            # THEN every page is the same: items, their order, counts and where the next page starts
            assert actual == expected, request
            compared += sum(len(page.get("Items", [])) for page in expected)
        assert compared > 200  # the requests did return items to compare


def test_uninstall_restores_motos_own_sorting_and_serialiser():
    from moto.core.responses import ActionResult
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    def patched() -> tuple:
        return (DynamoType.cast_value.fget, Table.all_items, Table.sorted_items, ActionResult.execute_result)

    originals = patched()
    with dynamodb_speed.installed():
        assert all(now is not before for now, before in zip(patched(), originals, strict=True))
    assert patched() == originals


def _attribute(rng: random.Random, depth: int = 0) -> dict:
    kinds = ["S", "N", "B", "BOOL", "NULL", "SS", "NS", "BS"] + (["M", "L"] if depth < 2 else [])
    kind = rng.choice(kinds)
    if kind == "S":
        return {"S": rng.choice(["x", "é<&>\"'", "2026-11-26T00:00:00.000Z", " "])}
    if kind == "N":
        return {"N": rng.choice(["0", "-1.50", "12345678901234567890", "3.14"])}
    if kind == "B":
        return {"B": bytes(rng.randrange(256) for _ in range(rng.randint(1, 6)))}
    if kind == "BOOL":
        return {"BOOL": rng.random() < 0.5}
    if kind == "NULL":
        return {"NULL": True}
    if kind == "SS":
        return {"SS": rng.sample(["a", "b", "c", "d"], rng.randint(1, 3))}
    if kind == "NS":
        return {"NS": rng.sample(["1", "2.5", "-3"], rng.randint(1, 3))}
    if kind == "BS":
        return {"BS": rng.sample([b"\x00", b"\xff\xfe", b"ab"], rng.randint(1, 3))}
    if kind == "M":
        return {"M": {f"f{i}": _attribute(rng, depth + 1) for i in range(rng.randint(0, 3))}}
    return {"L": [_attribute(rng, depth + 1) for _ in range(rng.randint(0, 3))]}


def _item_calls(rng: random.Random, table: str):
    """Random item operations with every ReturnValues / ReturnConsumedCapacity, on present and absent keys."""
    for _ in range(60):
        key = {"pk": {"S": f"k{rng.randint(0, 12)}"}}
        capacity = {"ReturnConsumedCapacity": rng.choice(["NONE", "TOTAL", "INDEXES"])}
        attributes = {f"a{i}": _attribute(rng) for i in range(rng.randint(0, 4))}
        yield "put_item", {"TableName": table, "Item": {**key, **attributes}, **capacity,
                           "ReturnValues": rng.choice(["NONE", "ALL_OLD"])}  # fmt: skip
        yield "get_item", {"TableName": table, "Key": key, **capacity}
        yield (
            "update_item",
            {
                "TableName": table,
                "Key": key,
                "UpdateExpression": "SET #v = :v ADD #c :one",
                "ExpressionAttributeNames": {"#v": "v", "#c": "count"},
                "ExpressionAttributeValues": {":v": _attribute(rng), ":one": {"N": "1"}},
                "ReturnValues": rng.choice(["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"]),
                **capacity,
            },
        )
        if rng.random() < 0.2:
            yield (
                "delete_item",
                {"TableName": table, "Key": key, "ReturnValues": rng.choice(["NONE", "ALL_OLD"])},
            )
        keys = [{"pk": {"S": f"k{n}"}} for n in rng.sample(range(14), 4)]
        yield "batch_get_item", {"RequestItems": {table: {"Keys": keys}}, **capacity}
        yield (
            "batch_write_item",
            {
                "RequestItems": {table: [{"PutRequest": {"Item": {**keys[0], "w": _attribute(rng)}}}]},
                **capacity,
            },
        )
        yield (
            "transact_get_items",
            {"TransactItems": [{"Get": {"TableName": table, "Key": k}} for k in keys[:2]]},
        )
        yield (
            "transact_write_items",
            {"TransactItems": [{"Put": {"TableName": table, "Item": {**keys[1], "t": _attribute(rng)}}}]},
        )
        yield (
            "query",
            {
                "TableName": table,
                "KeyConditionExpression": "pk = :p",
                "ExpressionAttributeValues": {":p": key["pk"]},
                **capacity,
            },
        )
        yield "scan", {"TableName": table, "Limit": rng.choice([1, 5, 100]), **capacity}
        yield (
            "scan",
            {"TableName": table, "ProjectionExpression": "pk, a0, v", "Select": "SPECIFIC_ATTRIBUTES"},
        )
        yield "scan", {"TableName": table, "Select": "COUNT"}


def test_item_operations_write_the_same_json_as_motos_shape_walk(monkeypatch):
    """Every response is written both ways, from the same result, and the two bodies must parse equal."""
    from moto.core.responses import ActionResult

    compared: list[str] = []
    walk = dynamodb_speed._original_execute_result

    def both(self, context):
        fast = dynamodb_speed.fast_json(self, context)  # first: the walk may change the result
        status, headers, body = walk(self, context)
        operation = context.operation_model.name
        if operation in dynamodb_speed.ITEM_OPERATIONS:
            assert fast is not None, operation
            fast_status, fast_headers, fast_body = fast
            assert (fast_status, fast_headers) == (status, dict(headers)), operation
            assert json.loads(fast_body) == json.loads(body), operation
            compared.append(operation)
        return status, headers, body

    monkeypatch.setattr(ActionResult, "execute_result", both)
    rng = random.Random(7)
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(
            TableName="items",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        )
        for operation, request in _item_calls(rng, "items"):
            getattr(ddb, operation)(**request)
    assert set(compared) >= dynamodb_speed.ITEM_OPERATIONS  # every item operation was compared
    assert len(compared) > 500
