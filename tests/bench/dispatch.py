"""Benchmark: the dispatcher with N groups in one slot (default 100,000), its cost per group, and the million.

    .venv/bin/python tests/bench/dispatch.py [--groups N]

One DynamoDB Local and one local SQS endpoint of their own. Setup (not measured): one tenant, N outbox groups
imported by the real service, all with the morning slot 08:00, and a morning brief. Measured: the dispatcher's
`process` for 08:00 (names.py), as one invocation: it reads the slot's groups page by page, writes its
checkpoint and queues a message a group, 10 to a SendMessageBatch; nobody drains the queue.

What docs/scale.md projects from it: seconds and CPU seconds a group (the invocation's wall time here also
waits on the emulator and the queue on the same 2 cores), DynamoDB calls and capacity a group, SQS requests a
group. The target: a million groups in one slot queued within the dispatcher's own Timeout (template.yaml), at
the measured wall time a group; missed, it says dispatch must split across invocations.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import sys
import time
from datetime import UTC, date, datetime

from common import ROOT, STACK, Probe, local_env, report
from harness import Check, Target, scaled
from names import CHECKPOINT_ADAPTER, DISPATCH_FUNCTION, DISPATCH_MODULE, QUEUE_ADAPTER, SEND_QUEUE, SEND_QUEUE_ENV

sys.path.insert(0, str(ROOT / "tests"))
from support import dynamodb_clients  # noqa: E402

HEADER = "group_id,name,kind,channel,webhook_url,secret,owner,chat_id,timezone,morning,evening,tags,store,sales_rep,ends_at"  # noqa: E501
DAY, AT, MILLION = date(2026, 12, 1), "2026-12-01T08:00:00+08:00", 1_000_000
BRIEF = {"date": DAY.isoformat(), "edition": "morning", "title": "早安",
         "sections": [{"kind": "tip", "text": "泡绿茶水温 80°C 左右最好。"}]}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=scaled(100_000))
    parser.add_argument("--warm", type=int, default=scaled(5_000, least=500))
    args = parser.parse_args()
    began = time.perf_counter()
    sys.stdout, stdout = sys.stderr, sys.stdout

    from qunyun_ops.local.dynamodb import DynamoDBLocal, free_port
    from qunyun_ops.local.sqs import SqsLocal, create_queues, sqs_client

    port = free_port()
    local_env(port)
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    with SqsLocal(log=log) as sqs_server, DynamoDBLocal(port, log=log) as server:
        os.environ.update({"AWS_ENDPOINT_URL_SQS": sqs_server.endpoint, "QUNYUN_SQS_ENDPOINT": sqs_server.endpoint})
        from qunyun_ops.local.stack import ddb_client
        from qunyun_ops.local.tables import create_tables
        from qunyun_ops.local.template import Template
        from qunyun_ops.paths import TEMPLATE

        template = Template.read(TEMPLATE)
        create_tables(ddb_client(server.endpoint), template, STACK)
        sqs = sqs_client(sqs_server.endpoint)
        url = create_queues(sqs, template, STACK)[SEND_QUEUE]
        os.environ[SEND_QUEUE_ENV] = url

        from qunyun.adapters.content import ContentRepository
        from qunyun.adapters.groups import GroupRepository
        from qunyun.adapters.secrets import secret_store
        from qunyun.adapters.tenants import TenantRepository
        from qunyun.domain.briefs import parse_brief
        from qunyun.services.briefs import add_brief
        from qunyun.services.groups import import_groups
        from qunyun.services.tenants import create_tenant

        dispatcher = importlib.import_module(DISPATCH_MODULE)
        checkpoint = importlib.import_module(CHECKPOINT_ADAPTER).DispatchCheckpoint
        tenants, groups, secrets = TenantRepository(), GroupRepository(), secret_store()

        def tenant(tag: str, n: int, at: str) -> None:
            create_tenant(tag, tag, None, tenants=tenants, secrets=secrets)
            rows = [HEADER] + [f"{tag}-{i:07d},群 {i},welfare,outbox,,,,,,{at[11:16]},-,,,," for i in range(n)]
            for start in range(0, n + 1, 20_000):  # the import takes a CSV at a time, as an operator sends it
                import_groups(tag, "\n".join([HEADER] + rows[1 + start:1 + start + 20_000]) + "\n", tenants=tenants,
                              groups=groups, secrets=secrets)
            add_brief(tenants.get(tag), parse_brief(BRIEF), content=ContentRepository(), now=datetime.now(UTC))

        log(f"warm-up: {args.warm} groups dispatched at 07:00 ...")
        tenant("warm", args.warm, "2026-12-01T07:00:00+08:00")
        queue = importlib.import_module(QUEUE_ADAPTER).PushQueue(url)

        def deps(tag: str):
            return dataclasses.replace(dispatcher.default_deps(), checkpoint=checkpoint(tag), queue=queue)

        dispatcher.process({"scheduled_time": "2026-12-01T07:00:00+08:00"}, deps=deps("warm"))
        log(f"setup: {args.groups} groups in the 08:00 slot ...")
        tenant("bench", args.groups, AT)
        probe = Probe().attach_all(dynamodb_clients())
        log(f"measured: one {DISPATCH_FUNCTION} invocation for {AT} ...")
        start, cpu = time.perf_counter(), time.thread_time()
        summary = dispatcher.process({"scheduled_time": AT}, deps=deps("bench"))
        seconds, cpu = time.perf_counter() - start, time.thread_time() - cpu
        probe.detach_all()
        assert summary["messages"] == args.groups, summary
        queued = int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
                     ["Attributes"]["ApproximateNumberOfMessages"])

    timeout = template.functions[DISPATCH_FUNCTION].timeout
    per_group = seconds / args.groups
    out = {"benchmark": "dispatch", "groups": args.groups, "summary": summary, "queued": queued,
           "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
           "ms_per_group": round(per_group * 1000, 4), "cpu_ms_per_group": round(cpu / args.groups * 1000, 4),
           "groups_per_s": round(args.groups / seconds, 1),
           "send_message_batch_per_group": round(-(-summary["messages"] // 10) / args.groups, 4),
           "dynamodb_calls": dict(sorted(probe.calls.items())), "dynamodb_calls_by_table": dict(probe.by_table),
           "read_units_per_group": round(probe.read / args.groups, 4),
           "write_units_per_group": round(probe.write / args.groups, 5),
           "timeout_seconds": timeout, "million_seconds_projected": round(per_group * MILLION, 1),
           "million_invocations_needed": -(-round(per_group * MILLION) // timeout),
           "total_seconds": round(time.perf_counter() - began, 1)}
    checks = [Check.of_figure("dispatch", f"a million groups' slot queued by one invocation (s, Timeout {timeout})",
                              per_group * MILLION, "s", Target(at_most=timeout))]
    sys.stdout = stdout
    report(out, checks)


if __name__ == "__main__":
    main()
