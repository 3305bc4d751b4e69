"""The benchmarks' index meter (tests/bench/index_writes.py) bills index entries as DynamoDB does: for single
writes it agrees with the units DynamoDB Local reports per index, and it counts the entries of a transaction's
items, which DynamoDB Local does not report."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from index_writes import IndexWrites  # noqa: E402

INDEXES = [
    {"IndexName": "keys", "KeySchema": [{"AttributeName": "due_pk", "KeyType": "HASH"},
                                        {"AttributeName": "due_sk", "KeyType": "RANGE"}],
     "Projection": {"ProjectionType": "KEYS_ONLY"}},
    {"IndexName": "some", "KeySchema": [{"AttributeName": "board_pk", "KeyType": "HASH"},
                                        {"AttributeName": "sk", "KeyType": "RANGE"}],
     "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["points"]}},
    {"IndexName": "every", "KeySchema": [{"AttributeName": "tag", "KeyType": "HASH"}],
     "Projection": {"ProjectionType": "ALL"}},
]


def make_table(ddb) -> tuple[str, IndexWrites]:
    name = f"index-meter-{uuid.uuid4().hex[:6]}"
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"}
                                           for a in ("pk", "sk", "due_pk", "due_sk", "board_pk", "tag")],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                {"AttributeName": "sk", "KeyType": "RANGE"}],
                     GlobalSecondaryIndexes=INDEXES)
    streams = boto3.client("dynamodbstreams", endpoint_url=ddb.meta.endpoint_url, region_name="us-east-1",
                           aws_access_key_id="local", aws_secret_access_key="local")
    return name, IndexWrites(ddb, streams, name, INDEXES)


def s(value: str) -> dict:
    return {"S": value}


WRITES = [  # (what it does, the request) each against the item as the earlier writes left it
    ("a lot made, due", ("put_item", {"Item": {"pk": s("m"), "sk": s("L1"), "due_pk": s("D"), "due_sk": s("1"),
                                               "n": {"N": "5"}}})),
    ("points added, due as it was", ("update_item", {"Key": {"pk": s("m"), "sk": s("L1")},
                                                     "UpdateExpression": "ADD n :x SET due_sk = :d",
                                                     "ExpressionAttributeValues": {":x": {"N": "3"}, ":d": s("1")}})),
    ("due moved", ("update_item", {"Key": {"pk": s("m"), "sk": s("L1")}, "UpdateExpression": "SET due_sk = :d",
                                   "ExpressionAttributeValues": {":d": s("2")}})),
    ("due cleared", ("update_item", {"Key": {"pk": s("m"), "sk": s("L1")},
                                     "UpdateExpression": "REMOVE due_pk, due_sk"})),
    ("an entry listed", ("put_item", {"Item": {"pk": s("m"), "sk": s("E1"), "board_pk": s("B"), "points": {"N": "5"},
                                               "note": s("x")}})),
    ("a field it does not project changed", ("update_item", {"Key": {"pk": s("m"), "sk": s("E1")},
                                                             "UpdateExpression": "SET note = :n",
                                                             "ExpressionAttributeValues": {":n": s("y")}})),
    ("a field it projects changed", ("update_item", {"Key": {"pk": s("m"), "sk": s("E1")},
                                                     "UpdateExpression": "SET points = :p",
                                                     "ExpressionAttributeValues": {":p": {"N": "6"}}})),
    ("an item in every index, 1.5 KB", ("put_item", {"Item": {"pk": s("m"), "sk": s("T1"), "tag": s("t"),
                                                              "big": s("x" * 1500)}})),
    ("deleted", ("delete_item", {"Key": {"pk": s("m"), "sk": s("T1")}})),
]


def test_single_writes_are_billed_as_dynamodb_local_reports_them(ddb):
    # GIVEN a table with a keys-only, an INCLUDE and an ALL index, and the meter on it
    table, meter = make_table(ddb)
    for what, (call, params) in WRITES:
        # WHEN each single write is made, asking DynamoDB Local for its units per index
        reported = getattr(ddb, call)(TableName=table, ReturnConsumedCapacity="INDEXES", **params)["ConsumedCapacity"]
        local = {k: v["CapacityUnits"] for k, v in (reported.get("GlobalSecondaryIndexes") or {}).items()}
        # THEN the meter bills each index what DynamoDB Local reported for it
        counted = {k: v for k, v in meter.take().items() if v}
        assert counted == local, (what, counted, local)
    ddb.delete_table(TableName=table)


def test_a_transactions_items_are_billed_their_index_entries(ddb):
    # GIVEN the same table, a lot due and an entry listed
    table, meter = make_table(ddb)
    ddb.put_item(TableName=table, Item={"pk": s("m"), "sk": s("L1"), "due_pk": s("D"), "due_sk": s("1")})
    meter.take()
    # WHEN one transaction adds an entry, spends from the lot (its due as it was) and clears another's due
    ddb.put_item(TableName=table, Item={"pk": s("m"), "sk": s("L2"), "due_pk": s("D"), "due_sk": s("0")})
    meter.take()
    ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": table, "Item": {"pk": s("m"), "sk": s("E9"), "board_pk": s("B"), "points": {"N": "-5"}}}},
        {"Update": {"TableName": table, "Key": {"pk": s("m"), "sk": s("L1")}, "UpdateExpression": "ADD n :x",
                    "ExpressionAttributeValues": {":x": {"N": "-5"}}}},
        {"Update": {"TableName": table, "Key": {"pk": s("m"), "sk": s("L2")},
                    "UpdateExpression": "REMOVE due_pk, due_sk"}},
    ])
    # THEN it bills the entry's listing and the cleared due, and nothing for the spend
    assert {k: v for k, v in meter.take().items() if v} == {"some": 1, "keys": 1}
    # AND a second take finds nothing new
    assert not any(meter.take().values())
    ddb.delete_table(TableName=table)


def test_the_meter_turns_the_stream_off_before_anything_is_timed(ddb):
    # GIVEN the meter on a table, one lot written while it counts
    table, meter = make_table(ddb)
    ddb.put_item(TableName=table, Item={"pk": s("m"), "sk": s("L1"), "due_pk": s("D"), "due_sk": s("1")})
    assert meter.take() == {"keys": 1, "some": 0, "every": 0}
    # WHEN it stops
    meter.stop()
    # THEN the table keeps no stream: its later writes run as they would without the meter
    spec = ddb.describe_table(TableName=table)["Table"].get("StreamSpecification") or {}
    assert not spec.get("StreamEnabled")
    ddb.delete_table(TableName=table)
