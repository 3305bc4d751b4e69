"""The index entries a table's writes made, as AWS bills them, read from the table's stream.

DynamoDB Local reports the index units of a single write, but of a transaction only the indexes it touched, not
how many entries. So a transaction's estimate (2 write units per item per started KB of request) left its index
entries out. This meter turns the table's stream on (NEW_AND_OLD_IMAGES) and, after a phase, reads each change
of an item and bills each index by AWS's rules for a global secondary index:

* an entry made (the item gains the index's keys): one unit per started KB of the projected entry;
* an entry removed (the item, or one of its index keys, deleted): one unit per started KB of the entry;
* an entry moved (an index key changed value): the removal of the old entry and the making of the new;
* an entry whose projected attributes changed, keys as they were: one per KB of the larger of the two;
* an entry that stays as it was, or an item outside the index: nothing.

Keeping a stream makes every write of the emulator slower, the floors' plain writes more than the paths, whose
time also goes to reads and to the client: timed with it on, the ratios to the floors would flatter the paths.
So a benchmark counts on an untimed pass of the same work (its warm-up) and turns the stream off (`stop`)
before it times anything.
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from qunyun_ops.local.streams import StreamReader, streams_client  # noqa: E402
from support import item_bytes  # noqa: E402


class IndexWrites:
    """Index units of every write to one table since the last `take`, by index."""

    def __init__(self, client, streams, table: str, indexes: list[dict]) -> None:
        self.client, self.table = client, table
        described = client.describe_table(TableName=table)["Table"]
        self.table_keys = [k["AttributeName"] for k in described["KeySchema"]]
        self.indexes = {g["IndexName"]: g for g in indexes}
        if (described.get("StreamSpecification") or {}).get("StreamEnabled"):
            raise ValueError(f"{table} keeps a stream already: the meter turns its own on and off")
        described = client.update_table(TableName=table, StreamSpecification={
            "StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})["TableDescription"]
        self.reader = StreamReader(streams, described["LatestStreamArn"])
        self.records = 0

    @property
    def arn(self) -> str:
        """The stream's ARN (PageEarnings reads the same stream in a counting pass)."""
        return self.reader.arn

    def stop(self) -> None:
        """Turns the table's stream off, so that what is timed next writes as it would without the meter."""
        self.client.update_table(TableName=self.table, StreamSpecification={"StreamEnabled": False})

    def take(self) -> Counter:
        """Units by index of the changes since the last call."""
        units: Counter = Counter()
        for change in self._changes():
            for name, index in self.indexes.items():
                units[name] += self.units(index, change.get("OldImage"), change.get("NewImage"))
        return units

    def _changes(self) -> list[dict]:
        """The item changes (`Keys`, `OldImage`, `NewImage`) written since the last call."""
        records, place = self.reader.read_raw()
        self.reader.commit(place)
        self.records += len(records)
        return [record["dynamodb"] for record in records]

    def entry(self, index: dict, image: dict | None) -> dict | None:
        """The index's entry for an item as stored, or None when the item is not in the index."""
        keys = [k["AttributeName"] for k in index["KeySchema"]]
        if not image or any(k not in image for k in keys):
            return None
        projection = index["Projection"]
        kind = projection.get("ProjectionType", "ALL")
        if kind == "ALL":
            return dict(image)
        wanted = set(self.table_keys) | set(keys) | set(projection.get("NonKeyAttributes", []) if kind == "INCLUDE"
                                                        else [])
        return {k: v for k, v in image.items() if k in wanted}

    def units(self, index: dict, old: dict | None, new: dict | None) -> int:
        before, after = self.entry(index, old), self.entry(index, new)
        if before == after:
            return 0
        if before is None:
            return _kb(after)
        if after is None:
            return _kb(before)
        keys = [k["AttributeName"] for k in index["KeySchema"]]
        if any(before[k] != after[k] for k in keys):
            return _kb(before) + _kb(after)
        return max(_kb(before), _kb(after))


def _kb(entry: dict) -> int:
    return max(1, math.ceil(item_bytes(entry) / 1024))


def for_table(client, stack: str, logical: str) -> IndexWrites:
    """The meter on one of template.yaml's tables (by a part of its name, e.g. "points"), with the indexes the
    template declares for it."""
    from qunyun_ops.local.tables import table_request
    from qunyun_ops.local.template import Template
    from qunyun_ops.paths import TEMPLATE

    request = next(r for r in (table_request(p, stack) for p in Template.read(TEMPLATE).tables.values())
                   if r["TableName"] == f"{stack}-{logical}")
    streams = streams_client(client.meta.endpoint_url)
    return IndexWrites(client, streams, request["TableName"], request.get("GlobalSecondaryIndexes", []))
