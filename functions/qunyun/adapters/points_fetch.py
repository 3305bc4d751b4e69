"""Items of the points table by key, read consistently, 100 to a BatchGetItem: the one read loop of the ledger."""

from __future__ import annotations

from pynamodb.connection import Connection

from qunyun.adapters.points_keys import Key
from qunyun.adapters.points_tables import TABLE


def fetch(connection: Connection, wanted: list[Key]) -> dict[Key, dict | None]:
    """These items as stored (None for those that do not exist), whatever DynamoDB left unprocessed read again."""
    found: dict[Key, dict] = {}
    unique = list(dict.fromkeys(wanted))
    for start in range(0, len(unique), 100):
        request: dict | None = {TABLE: {"ConsistentRead": True, "Keys": [
            {"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in unique[start:start + 100]]}}
        while request:
            resp = connection.client.batch_get_item(RequestItems=request)
            for raw in resp.get("Responses", {}).get(TABLE, []):
                found[(raw["pk"]["S"], raw["sk"]["S"])] = raw
            request = resp.get("UnprocessedKeys") or None
    return {key: found.get(key) for key in unique}
