"""What every benchmark shares: a DynamoDB Local of its own, a capacity meter, and the JSON report line.

Benchmarks run as scripts (`python tests/bench/NAME.py`), set the environment before importing qunyun
(as Lambda does), and print one JSON object as their last line.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "functions")]
STACK = "qunyun-bench"


def local_env(port: int) -> None:
    from qunyun_ops.env import local_environment

    secrets = Path(tempfile.mkdtemp(prefix="qunyun-bench-")) / "secrets.json"
    os.environ.update(local_environment(f"http://127.0.0.1:{port}", STACK, secrets))
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"


class CapacityMeter:
    """Asks DynamoDB for ConsumedCapacity on every call of a botocore client and adds it up."""

    def __init__(self) -> None:
        self.read = 0.0
        self.write = 0.0
        self.total = 0.0
        self.calls: dict[str, int] = {}
        self._lock = threading.Lock()

    def attach(self, client) -> CapacityMeter:
        client.meta.events.register("provide-client-params.dynamodb", self._ask)
        client.meta.events.register("after-call.dynamodb", self._add)
        return self

    def detach(self, client) -> None:
        client.meta.events.unregister("provide-client-params.dynamodb", self._ask)
        client.meta.events.unregister("after-call.dynamodb", self._add)

    def _ask(self, params, model, **_):
        if model.name not in ("CreateTable", "ListTables", "DescribeTable", "UpdateTimeToLive"):
            params.setdefault("ReturnConsumedCapacity", "TOTAL")

    def _add(self, parsed, model, **_):
        consumed = parsed.get("ConsumedCapacity") or []
        if isinstance(consumed, dict):
            consumed = [consumed]
        with self._lock:
            self.calls[model.name] = self.calls.get(model.name, 0) + 1
            for c in consumed:
                total = c.get("CapacityUnits", 0.0)
                self.total += total
                # DynamoDB Local reports only the total for most calls; classify it by the operation.
                if model.name in ("GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"):
                    self.read += c.get("ReadCapacityUnits", total)
                else:
                    self.write += c.get("WriteCapacityUnits", total)

    def reset(self) -> None:
        with self._lock:
            self.read = self.write = self.total = 0.0
            self.calls = {}



class Probe(CapacityMeter):
    """Capacity plus what the calls were: calls per operation and table, each transaction's items (how many,
    which kinds, request bytes, AWS write units), and time and DynamoDB Local's capacity units per operation."""

    def __init__(self) -> None:
        super().__init__()
        self._started = threading.local()
        self._clients: dict[int, object] = {}
        self._clear()

    def _clear(self) -> None:
        self.by_table: Counter = Counter()
        self.tx_sizes: list[int] = []  # items per transaction, in order
        self.tx_kinds: Counter = Counter()  # e.g. "Put+Update" → transactions
        self.tx_item_bytes = 0
        self.tx_aws_units = 0  # 2 write units per transaction item per started KB of request
        self.seconds: Counter = Counter()  # from the call's parameters to its parsed answer
        self.units: Counter = Counter()  # capacity units as DynamoDB Local reports them

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
        tables = [params["TableName"]] if "TableName" in params else sorted(params.get("RequestItems") or ["?"])
        with self._lock:
            if model.name == "TransactWriteItems":
                items = params.get("TransactItems") or []
                tables = sorted({next(iter(i.values())).get("TableName", "?") for i in items})
                sizes = [len(json.dumps(i, separators=(",", ":"))) for i in items]
                self.tx_sizes.append(len(items))
                self.tx_kinds["+".join(sorted(next(iter(i)) for i in items))] += 1
                self.tx_item_bytes += sum(sizes)
                self.tx_aws_units += sum(2 * math.ceil(b / 1024) for b in sizes)
            self.by_table[f"{model.name}:{','.join(t.removeprefix(f'{STACK}-') for t in tables)}"] += 1

    def _done(self, parsed, model, **_):
        started = getattr(self._started, "at", None)
        consumed = parsed.get("ConsumedCapacity") or []
        with self._lock:
            if started is not None:
                self.seconds[model.name] += time.perf_counter() - started
            for c in [consumed] if isinstance(consumed, dict) else consumed:
                self.units[model.name] += c.get("CapacityUnits", 0.0)

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self._clear()


def pynamodb_client(model):
    return model._get_connection().connection.client


def report(result: dict) -> None:
    print(json.dumps(result, ensure_ascii=False, sort_keys=True))
