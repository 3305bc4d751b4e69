"""What every benchmark shares: a DynamoDB Local of its own, a capacity meter, and the JSON report line.

Benchmarks run as scripts (`python tests/bench/NAME.py`), set the environment before importing qunyun
(as Lambda does), and print one JSON object as their last line.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
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


def pynamodb_client(model):
    return model._get_connection().connection.client


def report(result: dict) -> None:
    print(json.dumps(result, ensure_ascii=False, sort_keys=True))
