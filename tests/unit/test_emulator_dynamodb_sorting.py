"""The emulator's faster DynamoDB sorting answers every Query and Scan exactly as moto's own does.

Random tables (string and number keys, a hash-only and a hash+range table, indexes with many equal
sort keys so the table's keys break ties), random queries (both directions, limits, paging through
ExclusiveStartKey, key conditions): each is asked with moto's sorting and with the emulator's, and the
answers (items, order, counts, LastEvaluatedKey) must be identical.
"""

from __future__ import annotations

import random

import boto3
import pytest
from moto import mock_aws

from pixelpipe_emulator import dynamodb_sorting

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
            with dynamodb_sorting.installed():
                actual = _pages(ddb, **request)
            # THEN every page is the same: items, their order, counts and where the next page starts
            assert actual == expected, request
            compared += sum(len(page.get("Items", [])) for page in expected)
        assert compared > 200  # the requests did return items to compare


def test_uninstall_restores_motos_own_sorting():
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    originals = (DynamoType.cast_value, Table.all_items, Table.sorted_items)
    with dynamodb_sorting.installed():
        assert (DynamoType.cast_value, Table.all_items, Table.sorted_items) != originals
    assert DynamoType.cast_value.fget is originals[0].fget
    assert (Table.all_items, Table.sorted_items) == originals[1:]
