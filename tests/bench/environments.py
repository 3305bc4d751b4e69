"""The benchmarks' client processes: each a platform's sender (HTTP callbacks through the local gateway, timed
one by one), an execution environment of ProcessGroupEvents (its own module state and clients, as Lambda gives
each environment), or a raw writer for the floor; released together by a barrier for each command (inbound.py,
guard.py)."""

from __future__ import annotations

import multiprocessing
import sys
import time
from collections import Counter

import burst
from common import ROOT, STACK

sys.path.insert(0, str(ROOT / "tests"))


class _Client:
    def __init__(self) -> None:
        self.http = None
        self.consumer = None

    def send(self, cmd: dict, index: int, barrier) -> dict:
        import httpx

        self.http = self.http or httpx.Client(base_url=f"http://127.0.0.1:{cmd['port']}", timeout=30)
        calls = [burst.callback(i, cmd["groups"], cmd["wecom"], cmd["run"], cmd["secret_token"], cmd["aes_key"])
                 for i in range(index, cmd["n"], cmd["clients"])]
        latencies, statuses = [], Counter()
        barrier.wait()
        for platform, query, headers, body in calls:
            url = f"{cmd['prefix']}/{platform}/{cmd['tenant']}" + (f"?{query}" if query else "")
            start = time.perf_counter()
            resp = self.http.post(url, headers=headers, content=body)
            latencies.append(time.perf_counter() - start)
            statuses[f"{platform} {resp.status_code}"] += 1
        return {"latencies": latencies, "statuses": statuses}

    def process(self, cmd: dict, index: int, barrier) -> dict:
        if self.consumer is None:
            import process_group_events
            from common import CapacityMeter
            from support import dynamodb_clients

            deps = process_group_events.default_deps()
            self.consumer, self.meter = process_group_events, CapacityMeter()
            for c in dynamodb_clients([deps.checkins.ledger._connection.client]):
                self.meter.attach(c)
        self.meter.reset()
        batches = cmd["batches"][index]
        seconds, failures = [], 0
        barrier.wait()
        cpu = time.process_time()
        for k, bodies in enumerate(batches):
            event = burst.sqs_event(bodies, f"{cmd['tag']}-{index}-{k}")
            start = time.perf_counter()
            result = self.consumer.process(event)
            seconds.append(time.perf_counter() - start)
            failures += len(result["batchItemFailures"])
        return {"seconds": seconds, "failures": failures, "cpu": time.process_time() - cpu, "read": self.meter.read,
                "write": self.meter.write, "calls": dict(self.meter.calls)}

    def offences(self, cmd: dict, index: int, barrier) -> dict:
        """GuardOffences draining the guard's FIFO queue as Lambda's event source does: receive up to 10, invoke,
        delete what succeeded; until the queue hands nothing over (a chat another environment holds is left to
        it). Run after `process`, whose meter it shares."""
        import os

        import guard_offences
        from qunyun_ops.local.sqs import sqs_client, sqs_record

        sqs = sqs_client(os.environ["QUNYUN_SQS_ENDPOINT"])
        url, arn = os.environ["GUARD_QUEUE_URL"], "arn:aws:sqs:us-east-1:123456789012:guard.fifo"
        guard_offences.default_deps()
        self.meter.reset()
        handled, failures, invocations, inside = 0, 0, 0, 0.0
        barrier.wait()
        cpu, start = time.process_time(), time.perf_counter()
        while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                         MessageSystemAttributeNames=["All"]).get("Messages", []):
            began = time.perf_counter()
            result = guard_offences.process({"Records": [sqs_record(m, arn, "us-east-1") for m in got]})
            inside += time.perf_counter() - began
            failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
            done = [m for m in got if m["MessageId"] not in failed]
            if done:
                sqs.delete_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])
            handled, failures, invocations = handled + len(got), failures + len(failed), invocations + 1
        return {"seconds": time.perf_counter() - start, "handler_seconds": inside, "handled": handled,
                "failures": failures, "invocations": invocations, "cpu": time.process_time() - cpu,
                "read": self.meter.read, "write": self.meter.write, "calls": dict(self.meter.calls)}

    def count(self, cmd: dict, index: int, barrier) -> dict:
        """The floor: one UpdateItem ADD a message to its member's counter item of the day, one after another."""
        from common import CapacityMeter
        from pynamodb.connection import Connection
        from qunyun.adapters.community_tables import ActivityPageItem

        meta = ActivityPageItem.Meta
        raw = Connection(region=meta.region, host=meta.host, max_retry_attempts=meta.max_retry_attempts).client
        meter = CapacityMeter().attach(raw)
        table = f"{STACK}-community"
        keys = cmd["keys"][index::cmd["clients"]]
        barrier.wait()
        start = time.perf_counter()
        for pk, sk in keys:
            raw.update_item(TableName=table, Key={"pk": {"S": f"raw#{cmd['tag']}#{pk}"}, "sk": {"S": sk}},
                            UpdateExpression="ADD messages :one", ExpressionAttributeValues={":one": {"N": "1"}})
        return {"seconds": time.perf_counter() - start, "write": meter.write}


def client_process(index: int, inbox, outbox, barrier) -> None:
    sys.stdout = sys.stderr  # stdout's last line is the report
    client = _Client()
    outbox.put(("ready", index))
    while (cmd := inbox.get())["kind"] != "stop":
        try:
            result = getattr(client, cmd["kind"])(cmd, index, barrier)
        except BaseException as err:  # reported to the main process, which fails the run
            barrier.abort()
            result = {"error": f"client {index}: {type(err).__name__}: {err}"}
        outbox.put(result)


class Clients:
    """The client processes, released together by a barrier for each command."""

    def __init__(self, n: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.n, self.barrier, self.outbox = n, ctx.Barrier(n + 1), ctx.Queue()
        self.inboxes = [ctx.Queue() for _ in range(n)]
        self.procs = [ctx.Process(target=client_process, args=(i, self.inboxes[i], self.outbox, self.barrier),
                                  daemon=True) for i in range(n)]
        for p in self.procs:
            p.start()
        assert sorted(i for _, i in (self.outbox.get(timeout=120) for _ in range(n))) == list(range(n))

    def run(self, cmd: dict) -> tuple[list[dict], float]:
        for q in self.inboxes:
            q.put({**cmd, "clients": self.n})
        self.barrier.wait(timeout=600)
        start = time.perf_counter()
        results = [self.outbox.get(timeout=3600) for _ in range(self.n)]
        wall = time.perf_counter() - start
        errors = [r["error"] for r in results if "error" in r]
        assert not errors, errors
        return results, wall

    def stop(self) -> None:
        for q in self.inboxes:
            q.put({"kind": "stop"})
        for p in self.procs:
            p.join(timeout=30)


def merged(results: list[dict]) -> dict:
    out: dict = {}
    for r in results:
        for k, v in r.items():
            if isinstance(v, list):
                out[k] = out.get(k, []) + v
            elif isinstance(v, dict):
                out[k] = out.get(k, Counter()) + Counter(v)
            else:
                out[k] = out.get(k, 0) + v
    return out


def deal(batches: list[list[str]], clients: int) -> list[list[list[str]]]:
    """Batches dealt out to the environments in turn."""
    return [batches[i::clients] for i in range(clients)]
