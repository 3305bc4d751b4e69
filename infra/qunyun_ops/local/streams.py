"""Lambda's DynamoDB stream event source mappings, locally: a table's stream on DynamoDB Local read shard by
shard from where the last read stopped, its records filtered by the event's FilterCriteria and handed to the
function in batches of its BatchSize, shaped as Lambda hands them over.

The stack's runner keeps its place in a checkpoint file, so another process (`qunyun local run`, the demo) can
wait until every record written so far has been delivered before it fires a job that reads what they produce."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qunyun_ops.local.template import StreamSource, Template, resolve

POLL = 0.5  # seconds between reads of a caught-up stream (Lambda polls each shard about four times a second)


def streams_client(endpoint: str):
    import boto3

    return boto3.client("dynamodbstreams", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key="local")


def matches(pattern: Any, value: Any) -> bool:
    """Lambda's event filtering, the part templates use: a mapping matches key by key (nested), and a list
    matches a leaf equal to one of its values or `{"exists": true|false}`."""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        return all(_key_matches(p, key in value, value.get(key)) for key, p in pattern.items())
    return False


def _key_matches(pattern: Any, present: bool, value: Any) -> bool:
    if isinstance(pattern, dict):
        return present and matches(pattern, value)
    for choice in pattern:
        if isinstance(choice, dict) and "exists" in choice:
            if bool(choice["exists"]) == (present and not isinstance(value, dict)):
                return True
        elif present and value == choice:
            return True
    return False


def _plain(value: Any) -> Any:
    """A stream record as JSON carries it: times as epoch seconds, binary as base64."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if hasattr(value, "timestamp"):
        return value.timestamp()
    return value


class StreamReader:
    """Reads a table's stream from where it last stopped. `read()` returns the records written since, in each
    shard's order, shaped as Lambda's DynamoDB event records; `checkpoint` is where it stands (shard → the last
    sequence number read; a closed shard read to its end maps to "")."""

    def __init__(self, client: Any, stream_arn: str, checkpoint: dict[str, str] | None = None):
        self.client, self.arn = client, stream_arn
        self.checkpoint: dict[str, str] = dict(checkpoint or {})

    @classmethod
    def of_table(cls, ddb: Any, streams: Any, table: str, checkpoint: dict[str, str] | None = None) -> StreamReader:
        arn = ddb.describe_table(TableName=table)["Table"].get("LatestStreamArn")
        if not arn:
            raise ValueError(f"table {table} has no stream")
        return cls(streams, arn, checkpoint)

    def _shards(self) -> list[dict]:
        shards, start = [], None
        while True:
            args = {"StreamArn": self.arn, **({"ExclusiveStartShardId": start} if start else {})}
            described = self.client.describe_stream(**args)["StreamDescription"]
            shards += described.get("Shards", [])
            start = described.get("LastEvaluatedShardId")
            if not start:
                return shards

    def read(self) -> tuple[list[dict], dict[str, str]]:
        """The records since the checkpoint, and where reading them leaves off (`commit` it once delivered)."""
        records, place = self.read_raw()
        return [{**_plain(record), "eventSourceARN": self.arn} for record in records], place

    def read_raw(self) -> tuple[list[dict], dict[str, str]]:
        """`read`'s records as the streams API returns them (binary as bytes, times as datetimes)."""
        out: list[dict] = []
        place = dict(self.checkpoint)
        for shard in self._shards():
            sid = shard["ShardId"]
            last = place.get(sid)
            if last == "":
                continue  # a closed shard already read to its end
            args = ({"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": last} if last
                    else {"ShardIteratorType": "TRIM_HORIZON"})
            iterator = self.client.get_shard_iterator(StreamArn=self.arn, ShardId=sid, **args)["ShardIterator"]
            while iterator:
                got = self.client.get_records(ShardIterator=iterator, Limit=1000)
                records = got.get("Records", [])
                for record in records:
                    out.append(record)
                    place[sid] = record["dynamodb"]["SequenceNumber"]
                iterator = got.get("NextShardIterator")
                if not records:
                    break
            if iterator is None:
                place[sid] = ""
        return out, place

    def commit(self, place: dict[str, str]) -> None:
        self.checkpoint = place


def source_key(source: StreamSource) -> str:
    """How a checkpoint names an event source: function/event."""
    return f"{source.function}/{source.name}"


def source_reader(ddb: Any, streams: Any, template: Template, stack_name: str, source: StreamSource,
                  checkpoint: dict[str, str] | None = None) -> StreamReader:
    """A reader of the stream of the source's table, from `checkpoint` (the start without one)."""
    table = resolve(template.tables[source.table]["TableName"], stack_name)
    return StreamReader.of_table(ddb, streams, table, checkpoint)


def deliverable(source: StreamSource, records: list[dict]) -> list[list[dict]]:
    """The records the source's filters let through, in batches of its BatchSize."""
    kept = [r for r in records if not source.patterns or any(matches(p, r) for p in source.patterns)]
    return [kept[i:i + source.batch_size] for i in range(0, len(kept), source.batch_size)]


def drain(ddb: Any, streams: Any, template: Template, stack_name: str, invoke: Callable[[str, dict], Any],
          readers: dict[str, StreamReader]) -> int:
    """Delivers every record written since the readers last read, to every stream-triggered function, and
    returns how many batches. When an invocation raises, the reader keeps its place and the error is raised: the
    next call delivers the same records again, the batches before the failed one included (Lambda keeps its place
    per batch; the consumers here write the same pages again), as Lambda retries a failed batch."""
    batches = 0
    for source in template.stream_sources:
        key = source_key(source)
        if key not in readers:
            readers[key] = source_reader(ddb, streams, template, stack_name, source)
        reader = readers[key]
        records, place = reader.read()
        for batch in deliverable(source, records):
            invoke(source.function, {"Records": batch})
            batches += 1
        reader.commit(place)
    return batches


class StreamRunner:
    """The stack's stream event sources: one thread reading every stream and invoking the pool, its place kept
    in `checkpoint_file` (function/event → shard → sequence number)."""

    def __init__(self, template: Template, pool: Any, endpoint: str, stack_name: str, checkpoint_file: Path,
                 log: Callable[[str], None] = print):
        from qunyun_ops.local.stack import ddb_client

        self.template, self.pool, self.stack_name, self.log = template, pool, stack_name, log
        self.ddb, self.streams = ddb_client(endpoint), streams_client(endpoint)
        self.file = checkpoint_file
        self.readers: dict[str, StreamReader] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="streams", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                drain(self.ddb, self.streams, self.template, self.stack_name, self.pool.invoke, self.readers)
                self.file.write_text(json.dumps({k: r.checkpoint for k, r in self.readers.items()}))
            except Exception as exc:  # a failed batch is read again; say so and go on polling
                self.log(f"streams: {exc}")
            self._stop.wait(POLL)


def caught_up(endpoint: str, template: Template, stack_name: str, checkpoint_file: Path) -> bool:
    """Whether the stack's stream runner has delivered every record its sources' filters let through."""
    from qunyun_ops.local.stack import ddb_client

    try:
        saved = json.loads(checkpoint_file.read_text())
    except (FileNotFoundError, ValueError):
        saved = {}
    ddb, streams = ddb_client(endpoint), streams_client(endpoint)
    for source in template.stream_sources:
        reader = source_reader(ddb, streams, template, stack_name, source, saved.get(source_key(source)))
        if any(deliverable(source, reader.read()[0])):
            return False
    return True


def wait_caught_up(endpoint: str, template: Template, stack_name: str, checkpoint_file: Path,
                   timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not caught_up(endpoint, template, stack_name, checkpoint_file):
        if time.monotonic() > deadline:
            raise TimeoutError(f"stream consumers still behind after {timeout:.0f} s")
        time.sleep(POLL / 2)
