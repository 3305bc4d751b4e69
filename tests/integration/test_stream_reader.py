"""StreamReader (qunyun_ops/local/streams.py) against DynamoDB Local: `read` shapes records as Lambda hands them
over, `read_raw` keeps them as the streams API returns them (the benchmarks' index meter sizes raw images), and
both read from the same place."""

from __future__ import annotations

import os

from qunyun_ops.local.stack import ddb_client
from qunyun_ops.local.streams import StreamReader, streams_client


def test_read_shapes_for_lambda_and_read_raw_keeps_the_api_s_values(ddb):
    endpoint = os.environ["DYNAMODB_ENDPOINT"]
    client = ddb_client(endpoint)
    table = "stream-reader-test"
    client.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    try:
        client.put_item(TableName=table, Item={"pk": {"S": "a"}, "blob": {"B": b"\x00\xff"}})
        reader = StreamReader.of_table(client, streams_client(endpoint), table)
        raw, place = reader.read_raw()
        shaped, same_place = reader.read()
        assert place == same_place and len(raw) == len(shaped) == 1
        assert raw[0]["dynamodb"]["NewImage"]["blob"] == {"B": b"\x00\xff"}
        assert shaped[0]["dynamodb"]["NewImage"]["blob"] == {"B": "AP8="}
        assert isinstance(shaped[0]["dynamodb"]["ApproximateCreationDateTime"], float)
        assert shaped[0]["eventSourceARN"] == reader.arn and "eventSourceARN" not in raw[0]

        reader.commit(place)
        client.put_item(TableName=table, Item={"pk": {"S": "b"}})
        later, _ = reader.read_raw()
        assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in later] == ["b"]
    finally:
        client.delete_table(TableName=table)
