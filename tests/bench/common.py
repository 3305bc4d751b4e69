"""What every benchmark shares: a DynamoDB Local of its own, a capacity meter, and the JSON report line.

Benchmarks run as scripts (`python tests/bench/NAME.py`), set the environment before importing qunyun
(as Lambda does), and print one JSON object as their last line, its `checks` judged against the targets the
benchmark declares (harness.py); `tests/bench/run.py` (`make bench`) runs them all and prints the summary.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from harness import Check, Usage, cost_per_million, missed
from prices import PRICES, READ_ON, REGION

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "functions"), str(ROOT / "tests")]
STACK = "qunyun-bench"

from support import item_bytes  # noqa: E402


def request_bytes(request) -> int:
    """A request's parameters' size as JSON, a binary value (boto3 holds it as bytes) by its own length."""
    return len(json.dumps(request, separators=(",", ":"), default=lambda raw: "x" * len(raw)))


def billed_bytes(tx_item: dict) -> int:
    """What AWS bills a transaction item by (2 units per started KB): a Put by the item it writes, as DynamoDB
    sizes items; any other by its request, which holds neither the item's size before nor after."""
    (kind, body), = tx_item.items()
    if kind == "Put":
        return item_bytes(body["Item"])
    return request_bytes(tx_item)


def tx_write_units(items: list[dict]) -> int:
    """What AWS bills a transaction's items: 2 write units per item per started KB (`billed_bytes`)."""
    return sum(2 * math.ceil(billed_bytes(i) / 1024) for i in items)


def local_env(port: int) -> None:
    from qunyun_ops.env import local_environment

    secrets = Path(tempfile.mkdtemp(prefix="qunyun-bench-")) / "secrets.json"
    os.environ.update(local_environment(f"http://127.0.0.1:{port}", STACK, secrets))
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"


def missing_read_units(params: dict, parsed: dict) -> float:
    """What AWS bills a BatchGetItem for the keys it found no item for, which DynamoDB Local does not report: each
    key is read as a GetItem, and a read of an item that does not exist still costs the read's minimum (1 unit
    strongly consistent, 0.5 eventually; "DynamoDB read and write operations", AWS's developer guide)."""
    units = 0.0
    for table, asked in (params.get("RequestItems") or {}).items():
        found = len((parsed.get("Responses") or {}).get(table) or [])
        unprocessed = len(((parsed.get("UnprocessedKeys") or {}).get(table) or {}).get("Keys") or [])
        units += (len(asked.get("Keys") or []) - found - unprocessed) * (1.0 if asked.get("ConsistentRead") else 0.5)
    return units


class CapacityMeter:
    """Asks DynamoDB for ConsumedCapacity on every call of a botocore client and adds it up; a BatchGetItem's keys
    that found nothing are billed as AWS bills them (`missing_read_units`)."""

    def __init__(self) -> None:
        self.read = 0.0
        self.write = 0.0
        self.total = 0.0
        self.calls: dict[str, int] = {}
        self.single_index_writes: Counter = Counter()  # table → index units of its single writes, as reported
        self.tx_write = 0.0  # what DynamoDB Local reported for transactions (per table, not per item)
        self.missing_reads = 0.0  # of it: read units of BatchGetItem keys that found no item
        self._lock = threading.Lock()
        self._asked = threading.local()

    def attach(self, client) -> CapacityMeter:
        client.meta.events.register("provide-client-params.dynamodb", self._ask)
        client.meta.events.register("after-call.dynamodb", self._add)
        return self

    def detach(self, client) -> None:
        client.meta.events.unregister("provide-client-params.dynamodb", self._ask)
        client.meta.events.unregister("after-call.dynamodb", self._add)

    def _ask(self, params, model, **_):
        if model.name not in ("CreateTable", "ListTables", "DescribeTable", "UpdateTimeToLive"):
            params.setdefault("ReturnConsumedCapacity", "INDEXES")  # the total, and the indexes' part of it
        if model.name == "BatchGetItem":
            self._asked.params = params

    def _add(self, parsed, model, **_):
        consumed = parsed.get("ConsumedCapacity") or []
        if isinstance(consumed, dict):
            consumed = [consumed]
        missing = missing_read_units(getattr(self._asked, "params", {}), parsed) if model.name == "BatchGetItem" else 0
        with self._lock:
            self.read += missing
            self.total += missing
            self.missing_reads += missing
            self.calls[model.name] = self.calls.get(model.name, 0) + 1
            for c in consumed:
                total = c.get("CapacityUnits", 0.0)
                self.total += total
                # DynamoDB Local reports only the total for most calls; classify it by the operation.
                if model.name in ("GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"):
                    self.read += c.get("ReadCapacityUnits", total)
                else:
                    self.write += c.get("WriteCapacityUnits", total)
                    if model.name == "TransactWriteItems":
                        self.tx_write += c.get("WriteCapacityUnits", total)
                if model.name in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"):
                    self.single_index_writes[c.get("TableName", "?")] += sum(
                        i.get("CapacityUnits", 0.0) for i in (c.get("GlobalSecondaryIndexes") or {}).values())

    def reset(self) -> None:
        with self._lock:
            self.read = self.write = self.total = self.tx_write = self.missing_reads = 0.0
            self.calls = {}
            self.single_index_writes = Counter()



def statement_key(statement: dict) -> tuple[str, str, str]:
    """The table and (pk, sk) of a PartiQL statement naming its item by `pk = ? AND sk = ?` (UPDATE) or
    `{'pk': ?, 'sk': ?, ...}` (INSERT)."""
    text, values = statement["Statement"], statement["Parameters"]

    def value(name: str) -> str:
        marker = f"{name} = ?" if f"{name} = ?" in text else f"'{name}': ?"
        return values[text[:text.index(marker)].count("?")]["S"]

    return text.split('"')[1], value("pk"), value("sk")


class _Counted:
    """A figure of a Probe's, brought up to date from the calls it recorded when it is read."""

    def __set_name__(self, owner, name: str) -> None:
        self.name = f"_{name}"

    def __get__(self, probe, owner=None):
        if probe is None:
            return self
        probe._count()
        return getattr(probe, self.name)

    def __set__(self, probe, value) -> None:
        setattr(probe, self.name, value)


class Probe(CapacityMeter):
    """Capacity plus what the calls were: calls per operation and table, each transaction's items (how many,
    which kinds, request bytes, AWS write units), and time and DynamoDB Local's capacity units per operation.

    A call is only recorded while it is made (its parameters, shallow-copied); what it was is counted when a figure
    is read, out of the time of the calls, as a floor's calls carry no such work.

    DynamoDB Local reports no capacity for PartiQL statements; each BatchExecuteStatement statement that wrote
    is kept (`statements_written`), and `statement_write_units` bills it as DynamoDB bills the equivalent
    UpdateItem: by the size of the item it left (read after the run), one unit per started KB."""

    by_table = _Counted()
    tx_sizes = _Counted()  # items per transaction, in order
    tx_kinds = _Counted()  # e.g. "Put+Update" → transactions
    tx_item_bytes = _Counted()
    tx_aws_units = _Counted()  # 2 write units per transaction item per started KB of request
    # every write in order: a transaction's items, 0 for a single write, -n for a BatchWriteItem of n puts, and
    # None for a scheduled run's own bookkeeping (its checkpoint, its boards), which its floor leaves out
    write_shape = _Counted()
    single_bytes = _Counted()  # request bytes of the single writes (PutItem, UpdateItem, DeleteItem)
    batch_puts = _Counted()  # puts of the BatchWriteItems, and their request bytes
    batch_bytes = _Counted()
    statements_written = _Counted()  # (table, pk, sk) of each PartiQL write

    def __init__(self) -> None:
        super().__init__()
        self._started = threading.local()
        self._clients: dict[int, object] = {}
        self._clear()

    def _clear(self) -> None:
        self._seen: list[tuple] = []  # the calls not yet counted, in order
        self.by_table = Counter()
        self.tx_sizes = []
        self.tx_kinds = Counter()
        self.tx_item_bytes = 0
        self.tx_aws_units = 0
        self.write_shape = []
        self.single_bytes = 0
        self.batch_puts = 0
        self.batch_bytes = 0
        self.seconds: Counter = Counter()  # from the call's parameters to its parsed answer
        self.units: Counter = Counter()  # capacity units as DynamoDB Local reports them
        self.statements_written = []

    def attach_all(self, clients) -> Probe:
        for client in clients:
            if id(client) not in self._clients:
                self._clients[id(client)] = client
                self.attach(client)
                client.meta.events.register("provide-client-params.dynamodb", self._look)
                client.meta.events.register("after-call.dynamodb", self._done)
        return self

    def detach_all(self) -> None:
        for client in self._clients.values():
            self.detach(client)
            client.meta.events.unregister("provide-client-params.dynamodb", self._look)
            client.meta.events.unregister("after-call.dynamodb", self._done)
        self._clients = {}

    def _look(self, params, model, **_):
        self._started.at = time.perf_counter()
        self._started.params = params
        with self._lock:
            self._seen.append((model.name, dict(params)))

    def _done(self, parsed, model, **_):
        started = getattr(self._started, "at", None)
        consumed = parsed.get("ConsumedCapacity") or []
        with self._lock:
            if started is not None:
                self.seconds[model.name] += time.perf_counter() - started
            for c in [consumed] if isinstance(consumed, dict) else consumed:
                self.units[model.name] += c.get("CapacityUnits", 0.0)
            if model.name == "BatchExecuteStatement":
                statements = getattr(self._started, "params", {}).get("Statements") or []
                self._seen.append(("#answered", statements, parsed.get("Responses") or []))

    def _count(self) -> None:
        """Counts the calls recorded since the last figure was read."""
        with self._lock:
            seen, self._seen = self._seen, []
            for name, params, *answer in seen:
                if name == "#answered":
                    self._statements_written.extend(k for k, r in zip((statement_key(s) for s in params), answer[0],
                                                              strict=False) if "Error" not in r)
                else:
                    self._call(name, params)

    def _call(self, name: str, params: dict) -> None:
        tables = [params["TableName"]] if "TableName" in params else sorted(params.get("RequestItems") or ["?"])
        if name == "BatchExecuteStatement":
            tables = sorted({table for table, _, _ in (statement_key(s) for s in params.get("Statements") or [])})
        if name == "TransactWriteItems":
            items = params.get("TransactItems") or []
            tables = sorted({next(iter(i.values())).get("TableName", "?") for i in items})
            self._tx_sizes.append(len(items))
            self._tx_kinds["+".join(sorted(next(iter(i)) for i in items))] += 1
            self._tx_item_bytes += sum(request_bytes(i) for i in items)
            self._tx_aws_units += tx_write_units(items)
            own = all(_bookkeeping((i.get("Item") or i.get("Key") or {}).get("pk", {}).get("S", ""))
                      for i in (next(iter(x.values())) for x in items))
            self._write_shape.append(None if own else len(items))
        elif name in ("PutItem", "UpdateItem", "DeleteItem"):
            if _bookkeeping((params.get("Item") or params.get("Key") or {}).get("pk", {}).get("S", "")):
                self._write_shape.append(None)
            else:
                self._write_shape.append(0)
                self._single_bytes += request_bytes(params)
        elif name == "BatchWriteItem":
            puts = [r["PutRequest"] for rs in params["RequestItems"].values() for r in rs if "PutRequest" in r]
            self._write_shape.append(-len(puts))
            self._batch_puts += len(puts)
            self._batch_bytes += sum(request_bytes(p) for p in puts)
        self._by_table[f"{name}:{','.join(t.removeprefix(f'{STACK}-') for t in tables)}"] += 1

    def statement_write_units(self, client) -> float:
        """The write units of the PartiQL statements that wrote, by the items as they are now (call it once the
        writes are over, with a client the probe does not watch)."""
        from support import write_units

        items = {}
        keys = sorted(set(self.statements_written))
        for start in range(0, len(keys), 100):
            wanted: dict[str, list] = {}
            for table, pk, sk in keys[start:start + 100]:
                wanted.setdefault(table, []).append({"pk": {"S": pk}, "sk": {"S": sk}})
            request = {t: {"Keys": k, "ConsistentRead": True} for t, k in wanted.items()}
            while request:
                answer = client.batch_get_item(RequestItems=request)
                for table, found in answer["Responses"].items():
                    items.update({(table, i["pk"]["S"], i["sk"]["S"]): i for i in found})
                request = answer.get("UnprocessedKeys") or {}
        return float(sum(write_units(items[k]) for k in self.statements_written))

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self._clear()


def _bookkeeping(pk: str) -> bool:
    """A scheduled run's own item (its checkpoint and counters, a built board), not the ledger's."""
    return pk.startswith("JOB#") or pk.endswith("#BOARD")


def pynamodb_client(model):
    return model._get_connection().connection.client


def memory_mb(function: str) -> int:
    """The function's MemorySize in template.yaml: what Lambda bills its duration at."""
    from qunyun_ops.local.template import Template
    from qunyun_ops.paths import TEMPLATE

    return Template.read(TEMPLATE).functions[function].memory


def cost(usage: Usage) -> dict:
    """$ per million units of work at the prices of prices.py, with what one unit used."""
    return {"usd_per_million": cost_per_million(usage, PRICES), "region": REGION, "prices_read_on": READ_ON,
            "per_unit": {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(usage).items()}}


def report(result: dict, checks: list[Check] | None = None) -> None:
    """The benchmark's one JSON line, last on stdout; its checks are what `make bench` judges."""
    if checks is not None:
        result["checks"] = [asdict(c) for c in checks]
        result["missed"] = missed(checks)
    print(json.dumps(result, ensure_ascii=False, sort_keys=True), flush=True)
