"""The benchmarks' capacity meter (tests/bench/common.py) bills reads as AWS does where DynamoDB Local does not: a
BatchGetItem's key that finds no item still costs a read's minimum on AWS, and DynamoDB Local reports nothing
for it."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from common import CapacityMeter  # noqa: E402


def a_table(ddb) -> str:
    name = f"read-meter-{uuid.uuid4().hex[:6]}"
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    ddb.put_item(TableName=name, Item={"pk": {"S": "here"}})
    return name


def keys(*names: str) -> list[dict]:
    return [{"pk": {"S": n}} for n in names]


def test_a_batch_gets_keys_that_find_nothing_are_billed_the_reads_minimum(ddb):
    # GIVEN a table holding one item, and a meter on the client
    table, meter = a_table(ddb), CapacityMeter()
    meter.attach(ddb)
    try:
        # WHEN one BatchGetItem asks for it and three keys that hold nothing, strongly consistent, then eventually
        strong = ddb.batch_get_item(RequestItems={table: {"Keys": keys("here", "a", "b", "c"), "ConsistentRead": True}},
                                    ReturnConsumedCapacity="TOTAL")
        reported = strong["ConsumedCapacity"][0]["CapacityUnits"]
        after_strong = meter.read
        ddb.batch_get_item(RequestItems={table: {"Keys": keys("here", "a", "b", "c")}})
        after_eventual = meter.read - after_strong
        # AND a GetItem of a key that holds nothing, which DynamoDB Local does bill
        ddb.get_item(TableName=table, Key=keys("zz")[0], ConsistentRead=True)
        after_get = meter.read - after_strong - after_eventual
    finally:
        meter.detach(ddb)
    # THEN DynamoDB Local reported only the item it found; the meter adds a read's minimum for each other key
    assert reported == 1.0
    assert (after_strong, after_eventual, after_get) == (4.0, 2.0, 1.0)
    assert meter.missing_reads == 3.0 + 1.5
