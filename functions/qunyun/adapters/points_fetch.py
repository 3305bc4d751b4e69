"""Items of the points table by key, 100 to a BatchGetItem: the one read loop of the ledger. Reads are strongly
consistent unless a caller asks otherwise (a plan's first read: points_reads.py)."""

from __future__ import annotations

from pynamodb.connection import Connection

from qunyun.adapters.points_keys import Key
from qunyun.adapters.points_tables import TABLE


def fetch(connection: Connection, wanted: list[Key], consistent: bool = True) -> dict[Key, dict | None]:
    """These items as stored (None for those that do not exist), whatever DynamoDB left unprocessed read again;
    without `consistent`, as an eventually consistent read (half the read units) may find them."""
    found: dict[Key, dict] = {}
    unique = list(dict.fromkeys(wanted))
    for start in range(0, len(unique), 100):
        request: dict | None = {TABLE: {"ConsistentRead": consistent, "Keys": [
            {"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in unique[start:start + 100]]}}
        while request:
            resp = connection.client.batch_get_item(RequestItems=request)
            for raw in resp.get("Responses", {}).get(TABLE, []):
                found[(raw["pk"]["S"], raw["sk"]["S"])] = raw
            request = resp.get("UnprocessedKeys") or None
    return {key: found.get(key) for key in unique}
