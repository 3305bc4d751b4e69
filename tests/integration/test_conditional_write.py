"""The ledger's one check of a refused write (adapters/conditional_write.py), against DynamoDB Local.

Tried here: a write whose condition holds is made (True); the same write repeated, its condition now failing, is
refused and writes nothing (False); a write DynamoDB rejects for another reason (a key of the wrong type) raises,
so that a fault is never taken for a write already made."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError
from qunyun.adapters.conditional_write import written
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.points_tables import TABLE


def _item(client, key: dict) -> dict | None:
    return client.get_item(TableName=TABLE, Key=key, ConsistentRead=True).get("Item")


def test_a_write_is_made_once_and_its_repeat_is_refused_without_writing(ddb):
    # GIVEN a key that holds nothing
    client = PointsLedger()._connection.client
    key = {"pk": {"S": f"cw-{uuid.uuid4().hex[:8]}"}, "sk": {"S": "x"}}
    put = dict(TableName=TABLE, ConditionExpression="attribute_not_exists(pk)")
    # WHEN a put conditioned on its absence is made, then made again with other contents
    first = written(client.put_item, Item={**key, "n": {"N": "1"}}, **put)
    again = written(client.put_item, Item={**key, "n": {"N": "2"}}, **put)
    # THEN the first is made, the repeat is refused, and the item is the first's
    assert (first, again) == (True, False)
    assert _item(client, key)["n"] == {"N": "1"}


def test_a_write_rejected_for_another_reason_raises_and_writes_nothing(ddb):
    # GIVEN a put whose key is a number where the table's key is a string
    client = PointsLedger()._connection.client
    pk = f"cw-{uuid.uuid4().hex[:8]}"
    # WHEN it is written
    with pytest.raises(ClientError) as raised:
        written(client.put_item, TableName=TABLE, Item={"pk": {"N": "7"}, "sk": {"S": pk}},
                ConditionExpression="attribute_not_exists(pk)")
    # THEN DynamoDB's error comes out as it is, not as a write already made, and nothing is stored
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert _item(client, {"pk": {"S": pk}, "sk": {"S": pk}}) is None
