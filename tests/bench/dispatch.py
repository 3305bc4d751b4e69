"""Benchmark: the dispatcher with N groups in one slot (default 100,000), its cost per group, and the million.

    .venv/bin/python tests/bench/dispatch.py [--groups N]

One DynamoDB Local and one local SQS endpoint of their own. Setup (not measured): one tenant, N outbox groups
imported by the real service, all with the morning slot 08:00, and a morning brief. Measured, the dispatcher split
across invocations (names.py): the planner, its scheduled `process` for 08:00 as one invocation (it reads the
slot's groups page by page, queues them as dispatch pages of at most 200 groups, 10 pages to a SendMessageBatch,
and writes its checkpoint); then the page consumer, its `process` for each page message as the queue's event
source hands it over (one record an invocation: the page's skips, its pushes 10 to a SendMessageBatch, its page
checkpoint). Receiving the pages is not timed (Lambda's poller does it); nobody drains the push queue.

What docs/scale.md projects from it: seconds and CPU seconds a group (the invocation's wall time here also
waits on the emulator and the queue on the same 2 cores), DynamoDB calls and capacity a group, SQS requests a
group, for the planner and the page consumer apart. The targets: the planner plans a million groups within the
dispatcher's Timeout (template.yaml); and a million groups' pushes are queued within 10 minutes of the slot:
the planner's time plus the pages' time spread over CONCURRENCY page invocations at once.
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
from names import (
    CHECKPOINT_ADAPTER,
    DISPATCH_FUNCTION,
    DISPATCH_MODULE,
    PAGE_QUEUE,
    PAGE_QUEUE_ENV,
    QUEUE_ADAPTER,
    SEND_QUEUE,
    SEND_QUEUE_ENV,
)

sys.path.insert(0, str(ROOT / "tests"))
from support import dynamodb_clients  # noqa: E402

HEADER = "group_id,name,kind,channel,webhook_url,secret,owner,chat_id,timezone,morning,evening,tags,store,sales_rep,ends_at"  # noqa: E501
DAY, AT, MILLION = date(2026, 12, 1), "2026-12-01T08:00:00+08:00", 1_000_000
# Page invocations at once: Lambda's SQS poller adds up to 300 concurrent invocations a minute (docs/scale.md),
# so 100 are running within the slot's first minute; the account's default concurrency is 1,000.
CONCURRENCY, WITHIN = 100, 600
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
        create_tables(ddb_client(server.endpoint), template, STACK, streams=False)
        sqs = sqs_client(sqs_server.endpoint)
        urls = create_queues(sqs, template, STACK)
        url, page_url = urls[SEND_QUEUE], urls[PAGE_QUEUE]
        os.environ.update({SEND_QUEUE_ENV: url, PAGE_QUEUE_ENV: page_url})

        from qunyun.adapters.content import ContentRepository
        from qunyun.adapters.groups import GroupRepository
        from qunyun.adapters.secrets import secret_store
        from qunyun.adapters.tenants import TenantRepository
        from qunyun.domain.briefs import parse_brief
        from qunyun.services.briefs import add_brief
        from qunyun.services.groups import import_groups
        from qunyun.services.tenants import create_tenant

        dispatcher = importlib.import_module(DISPATCH_MODULE)
        tenants, groups, secrets = TenantRepository(), GroupRepository(), secret_store()

        def tenant(tag: str, n: int, at: str) -> None:
            create_tenant(tag, tag, None, tenants=tenants, secrets=secrets)
            rows = [HEADER] + [f"{tag}-{i:07d},群 {i},welfare,outbox,,,,,,{at[11:16]},-,,,," for i in range(n)]
            for start in range(0, n, 20_000):  # the import takes a CSV at a time, as an operator sends it
                import_groups(tag, "\n".join([HEADER] + rows[1 + start:1 + start + 20_000]) + "\n", tenants=tenants,
                              groups=groups, secrets=secrets)
            add_brief(tenants.get(tag), parse_brief(BRIEF), content=ContentRepository(), now=datetime.now(UTC))

        log(f"warm-up: {args.warm} groups dispatched at 07:00 ...")
        tenant("warm", args.warm, "2026-12-01T07:00:00+08:00")
        queues = importlib.import_module(QUEUE_ADAPTER)
        queue, pages = queues.PushQueue(url), queues.PushQueue(page_url)
        adapters = importlib.import_module(CHECKPOINT_ADAPTER)

        def deps(tag: str):
            return dataclasses.replace(dispatcher.default_deps(), checkpoint=adapters.DispatchCheckpoint(tag),
                                       queue=queue, pages=pages, pages_done=adapters.PageCheckpoint(f"~{tag}#"))

        def drain() -> list[str]:
            """The page messages waiting, received and deleted (not timed: Lambda's poller does this)."""
            bodies = []
            while batch := sqs.receive_message(QueueUrl=page_url, MaxNumberOfMessages=10).get("Messages", []):
                bodies += [m["Body"] for m in batch]
                sqs.delete_message_batch(QueueUrl=page_url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
            return bodies

        def consume(bodies: list[str], tag: str) -> dict:
            out: dict = {}
            for i, body in enumerate(bodies):
                for k, v in dispatcher.process({"Records": [{"messageId": str(i), "body": body}]},
                                               deps=deps(tag)).items():
                    out[k] = out.get(k, 0) + v
            return out

        dispatcher.process({"scheduled_time": "2026-12-01T07:00:00+08:00"}, deps=deps("warm"))
        consume(drain(), "warm")
        log(f"setup: {args.groups} groups in the 08:00 slot ...")
        tenant("bench", args.groups, AT)
        plan_probe = Probe().attach_all(dynamodb_clients())
        log(f"measured: the {DISPATCH_FUNCTION} planner for {AT} ...")
        start, cpu = time.perf_counter(), time.thread_time()
        summary = dispatcher.process({"scheduled_time": AT}, deps=deps("bench"))
        plan_s, plan_cpu = time.perf_counter() - start, time.thread_time() - cpu
        plan_probe.detach_all()
        assert summary["planned"] == args.groups, summary
        bodies = drain()
        probe = Probe().attach_all(dynamodb_clients())
        log(f"measured: {len(bodies)} page invocations ...")
        start, cpu = time.perf_counter(), time.thread_time()
        pages_summary = consume(bodies, "bench")
        seconds, cpu = time.perf_counter() - start, time.thread_time() - cpu
        probe.detach_all()
        assert pages_summary["messages"] == args.groups and pages_summary["pages"] == len(bodies), pages_summary
        queued = int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
                     ["Attributes"]["ApproximateNumberOfMessages"])

    timeout = template.functions[DISPATCH_FUNCTION].timeout
    per_group, plan_per_group = seconds / args.groups, plan_s / args.groups
    per_page = seconds / len(bodies)
    million_queued = plan_per_group * MILLION + per_group * MILLION / CONCURRENCY
    out = {"benchmark": "dispatch", "groups": args.groups, "summary": summary, "pages_summary": pages_summary,
           "queued": queued, "pages": len(bodies),
           "planner": {"seconds": round(plan_s, 3), "cpu_seconds": round(plan_cpu, 3),
                       "ms_per_group": round(plan_per_group * 1000, 4),
                       "cpu_ms_per_group": round(plan_cpu / args.groups * 1000, 4),
                       "send_message_batch_per_group": round(-(-len(bodies) // 10) / args.groups, 5),
                       "dynamodb_calls": dict(sorted(plan_probe.calls.items())),
                       "read_units_per_group": round(plan_probe.read / args.groups, 4),
                       "million_seconds_projected": round(plan_per_group * MILLION, 1)},
           "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3), "seconds_per_page": round(per_page, 3),
           "ms_per_group": round(per_group * 1000, 4), "cpu_ms_per_group": round(cpu / args.groups * 1000, 4),
           "groups_per_s": round(args.groups / seconds, 1),
           "send_message_batch_per_group": round(-(-pages_summary["messages"] // 10) / args.groups, 4),
           "dynamodb_calls": dict(sorted(probe.calls.items())), "dynamodb_calls_by_table": dict(probe.by_table),
           "read_units_per_group": round(probe.read / args.groups, 4),
           "write_units_per_group": round(probe.write / args.groups, 5),
           "timeout_seconds": timeout, "concurrency": CONCURRENCY,
           "million_pages": -(-MILLION * len(bodies) // args.groups),
           "million_page_seconds_projected": round(per_group * MILLION, 1),
           "million_queued_seconds_projected": round(million_queued, 1),
           "total_seconds": round(time.perf_counter() - began, 1)}
    checks = [Check.of_figure("dispatch", f"a million groups planned by one invocation (s, Timeout {timeout})",
                              plan_per_group * MILLION, "s", Target(at_most=timeout)),
              Check.of_figure("dispatch", f"a page's invocation (s, Timeout {timeout})", per_page, "s",
                              Target(at_most=timeout)),
              Check.of_figure("dispatch", f"a million groups' pushes queued ({CONCURRENCY} page invocations, s)",
                              million_queued, "s", Target(at_most=WITHIN))]
    sys.stdout = stdout
    report(out, checks)


if __name__ == "__main__":
    main()
