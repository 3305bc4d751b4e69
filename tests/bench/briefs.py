"""Benchmark: a morning brief, dispatch → queue → send → record, on the local stack: direct channels against a
floor of as many writers as senders, WeCom customer groups apart.

    .venv/bin/python tests/bench/briefs.py [--groups N] [--runs R] [--customer-groups M] [--owners K] [--consumers C]

Everything runs against one DynamoDB Local of its own, a local SQS endpoint of its own (moto's server, as
`qunyun local up` runs it: qunyun_ops/local/sqs.py) and the channel fakes of tests/fakes/ on loopback. The
function, handler and queue names come from names.py.

* setup (not measured): a warm-up tenant (--warm groups, run once: connections, templates and DynamoDB Local's
  JIT, whose CPU per call falls by more than half over its first few thousand calls); R tenants of N groups on
  the direct channels (wecom_robot, feishu_bot, dingtalk_robot, slack_webhook, telegram_bot, signed_webhook,
  outbox, each with a robot/bot of its own so no platform rate limit is met), each with its own morning slot
  (08:00, 08:30, ...) so a run dispatches its own groups only; one tenant of M WeCom customer groups over K
  owners; a morning brief of six sections (two of them targeted) added with the real service.
* measured, R times: the dispatcher's `process` for the tenant's slot (one SendMessageBatch per 10 messages)
  while C sender execution environments (processes of their own, default 3: on 2 cores 3 keep them busiest)
  drain the queue as Lambda's event source mapping does: receive up to the template's BatchSize within its
  MaximumBatchingWindowInSeconds, call the sender's `process` with the SQS event, delete what it did not report
  back. Delivered means sent: the records `sent`, counted from the deliveries table.
* the floor, before, between and after those runs: the same C processes, each putting its share of N items
  of a group day's size (the warm-up's day item) into the deliveries table with plain boto3 put_item, one
  after another as a sender writes, all at once. The ratio: each run's sent briefs a second over each
  neighbouring floor's puts a second; the median and its spread are judged.
* reported apart: the customer-group tenant's run (its groups handed to their owners, `awaiting_owner`: not
  delivered until an owner sends), with its capacity per group.

Targets: direct-channel briefs end to end at least 0.5 of the floor; at most 1.5 write units a sent brief;
`render_brief` at most 1 ms a brief (measured once the runs are over, for the first tenant's groups); at most
$2 per million briefs (prices.py: DynamoDB units, the queue's requests, the sender's and dispatcher's CPU time at
the template's memory, one invocation a batch).

Capacity is DynamoDB's own ConsumedCapacity of every call (CapacityMeter) on every client the code path uses.
DynamoDB Local reports nothing for PartiQL statements (a WeCom owner's groups' mass sends, plans and outcomes,
BatchExecuteStatement): each statement that wrote is billed as DynamoDB bills the same UpdateItem or PutItem,
by the item it left, read after the run (tests/support.py `write_units`; the rule agrees with DynamoDB Local's
own billing of puts: tests/integration/test_outcomes_batched.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import os
import sys
import time
from collections import Counter
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta

from common import ROOT, STACK, Probe, cost, local_env, memory_mb, report
from harness import Check, Target, Usage, interleaved, ratios, scaled, spread
from names import (
    CHECKPOINT_ADAPTER,
    DISPATCH_FUNCTION,
    DISPATCH_MODULE,
    QUEUE_ADAPTER,
    SEND_FUNCTION,
    SEND_MODULE,
    SEND_QUEUE,
    SEND_QUEUE_ENV,
    SEND_SERVICE,
)

sys.path.insert(0, str(ROOT / "tests"))
from support import dynamodb_clients  # noqa: E402

HEADER = "group_id,name,kind,channel,webhook_url,secret,owner,chat_id,timezone,morning,evening,tags,store,sales_rep,ends_at"  # noqa: E501
DAY = date(2026, 12, 1)
AT = "2026-12-01T08:00:00+08:00"  # the tenant's 08:00 (Asia/Shanghai)
WARM_AT = "2026-12-01T07:00:00+08:00"
BRIDGE_SECRET = "bench-bridge-secret"
CORP = ("bench-corp", "bench-corp-secret")
CHANNELS = ("wecom_robot", "feishu_bot", "dingtalk_robot", "slack_webhook", "telegram_bot", "signed_webhook",
            "outbox", "wecom_customer_group")
KINDS = ("welfare", "learning", "traffic", "store")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def brief_yaml(day: date) -> str:
    return f"""\
date: {day.isoformat()}
edition: morning
title: 早安 · 基准
sections:
  - kind: news
    title: 今日要闻
    text: 冬季新茶上市，门店本周试饮。
    items:
      - title: 三款冬茶上新
        link: https://example.com/news/winter-tea
        summary: 红茶、普洱和桂花乌龙
      - title: 会员日改到周六
        link: https://example.com/news/member-day
  - kind: tip
    text: 泡绿茶水温 80°C 左右最好，太烫会苦。
  - kind: product
    name: 金骏眉礼盒
    price: ¥199
    coupon: 满199减30
    link: https://example.com/mall/jjm
    for: {{kinds: [welfare], tags: [vip]}}
  - kind: event
    title: 周六直播：冬季护肤茶饮
    time: 2026-12-05T20:00:00+08:00
    link: https://example.com/live
  - kind: checkin
    text: 点这里打卡，连续 7 天多送 20 分
    link: https://example.com/checkin
  - kind: text
    text: 店长群：本周盘点请在周五前提交。
    for: {{kinds: [store]}}
"""


class Fakes:
    """Every channel's fake on loopback, with a robot, bot or chat of its own for each group."""

    def __init__(self) -> None:
        from fakes.bridge import FakeBridge
        from fakes.dingtalk import FakeDingtalkRobot
        from fakes.feishu import FakeFeishuBot
        from fakes.slack import FakeSlackWebhook
        from fakes.telegram import FakeTelegramBot
        from fakes.wecom_customer_group import FakeWecomCustomerGroups
        from fakes.wecom_robot import FakeWecomRobot

        # The fakes' clocks follow real time here: a run outlasts the bridge's 5-minute signature window.
        clock = time.time
        self.wecom, self.feishu, self.dingtalk = FakeWecomRobot(clock), FakeFeishuBot(clock), FakeDingtalkRobot(clock)
        self.slack, self.telegram = FakeSlackWebhook(clock), FakeTelegramBot(clock)
        self.bridge, self.customer = FakeBridge(BRIDGE_SECRET, clock), FakeWecomCustomerGroups(clock)
        self.all = (self.wecom, self.feishu, self.dingtalk, self.slack, self.telegram, self.bridge, self.customer)

    def __enter__(self) -> Fakes:
        for fake in self.all:
            fake.__enter__()
        self.customer.add_corp(*CORP)
        return self

    def __exit__(self, *exc) -> None:
        for fake in self.all:
            fake.__exit__(*exc)

    def environment(self) -> dict[str, str]:
        # One WeCom base URL serves both robots and mass sends in production; here they are two fakes, and the
        # customer groups' client is given its own base URL below.
        return {"QUNYUN_WECOM_BASE_URL": self.wecom.base_url, "QUNYUN_FEISHU_BASE_URL": self.feishu.base_url,
                "QUNYUN_DINGTALK_BASE_URL": self.dingtalk.base_url, "QUNYUN_SLACK_BASE_URL": self.slack.base_url,
                "QUNYUN_TELEGRAM_BASE_URL": self.telegram.base_url, "QUNYUN_CHANNEL_TIMEOUT_SECONDS": "10"}

    def row(self, tag: str, i: int, owners: int, channels: tuple[str, ...] = CHANNELS) -> tuple[str, str]:
        """One CSV row of group i of the tenant tagged `tag`; returns (channel, row)."""
        gid = f"{tag}-{i:06d}"
        kind = KINDS[i % len(KINDS)]
        tags = "vip" if i % 5 == 0 else ""
        channel = channels[i % len(channels)]
        url = secret = owner = chat = ""
        if channel == "wecom_robot":
            url = self.wecom.add_robot(f"k-{gid}")
        elif channel == "feishu_bot":
            secret = f"fs-{gid}"
            url = self.feishu.add_bot(f"t-{gid}", secret=secret)
        elif channel == "dingtalk_robot":
            secret = f"SEC-{gid}"
            url = self.dingtalk.add_robot(f"t-{gid}", secret=secret)
        elif channel == "slack_webhook":
            url = self.slack.add_webhook(f"T{tag}/B{i:06d}/X")
        elif channel == "telegram_bot":
            secret, chat = f"{i}:bot-{tag}", f"-100{i:06d}"
            self.telegram.add_bot(secret)
            self.telegram.add_chat(chat)
        elif channel == "signed_webhook":
            url, secret = self.bridge.url, BRIDGE_SECRET
        elif channel == "wecom_customer_group":
            owner, chat = f"owner-{tag}-{i % owners}", f"wr{tag}{i:06d}"
            self.customer.add_owner(owner, [chat])
        name = f"茶友群 {i} <@all>" if i % 7 == 0 else f"茶友群 {i}"
        return channel, f"{gid},{name},{kind},{channel},{url},{secret},{owner},{chat},,08:00,-,{tags},,,"

    def received(self) -> dict[str, int]:
        return {"wecom_robot": len(self.wecom.received), "feishu_bot": len(self.feishu.received),
                "dingtalk_robot": len(self.dingtalk.received), "slack_webhook": len(self.slack.received),
                "telegram_bot": len(self.telegram.received), "signed_webhook": len(self.bridge.received),
                "wecom_customer_group_tasks": len(self.customer.tasks)}


class Timed:
    """Wraps a module attribute (a function) and adds up its wall time and calls."""

    def __init__(self, module, name: str) -> None:
        self.module, self.name, self.real = module, name, getattr(module, name)
        self.seconds, self.calls, self.on = 0.0, 0, False
        setattr(module, name, self)

    def __call__(self, *args, **kwargs):
        if not self.on:
            return self.real(*args, **kwargs)
        start = time.perf_counter()
        try:
            return self.real(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start
            self.calls += 1


def probe_figures(probe: Probe) -> dict:
    return {"read": probe.read, "write": probe.write, "calls": dict(probe.calls), "by_table": dict(probe.by_table),
            "tx_kinds": dict(probe.tx_kinds), "tx_aws_units": probe.tx_aws_units, "seconds": dict(probe.seconds),
            "units": dict(probe.units)}


def add_figures(total: dict, part: dict) -> dict:
    for key, value in part.items():
        if isinstance(value, dict):
            add_figures(total.setdefault(key, {}), value)
        else:
            total[key] = total.get(key, 0) + value
    return total


def sender_source():
    """The sender's event source as template.yaml declares it (BatchSize, MaximumBatchingWindowInSeconds)."""
    from qunyun_ops.local.template import Template

    template = Template.read(ROOT / "template.yaml")
    (source,) = [s for s in template.queue_sources if s.function == SEND_FUNCTION]
    return source


def receive(sqs, url: str, wait: int, most: int = 10) -> list[dict]:
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=most, WaitTimeSeconds=wait,
                               MessageSystemAttributeNames=["All"]).get("Messages", [])


def consumer(url: str, arn: str, customer_url: str, commands, results, handled, stop) -> None:
    """One sender (SEND_FUNCTION) execution environment (a process of its own, as Lambda runs them): Lambda's event
    source mapping in a loop: receive up to BatchSize messages within the batching window (template.yaml), call
    the sender's `process` with the SQS event, delete what it did not report back. Waits for a command per run;
    reports its figures when `stop` is set."""
    sys.stdout = sys.stderr
    import importlib

    import qunyun.services.briefs as brief_service

    sender, send_service = importlib.import_module(SEND_MODULE), importlib.import_module(SEND_SERVICE)
    from qunyun.channels.wecom_customer_group import WecomCustomerGroups
    from qunyun.settings import get_settings
    from qunyun_ops.local.sqs import sqs_client, sqs_record
    from qunyun_ops.local.stack import ddb_client

    deps = sender.default_deps()
    raw_client = ddb_client(get_settings().dynamodb_endpoint)
    # The probe's clients, made now: some models' clients would otherwise be made for the probe inside the
    # measured run, though the sender never uses them.
    clients = dynamodb_clients([deps.send.ledger._connection.client])
    source = sender_source()
    customer = WecomCustomerGroups(customer_url)
    deps.send.customer_groups = lambda: customer
    render_timer, jinja_timer = Timed(send_service, "render_brief"), Timed(brief_service, "render")
    sqs = sqs_client(os.environ["QUNYUN_SQS_ENDPOINT"])
    while (command := commands.get()) != "exit":
        if isinstance(command, dict):  # a floor sample: this environment's share of the writers' puts
            results.put(floor_puts(raw_client, command))
            continue
        probe = None
        if command == "measure":
            probe = Probe().attach_all(clients)
        render_timer.on = jinja_timer.on = command == "measure"
        render_timer.seconds = jinja_timer.seconds = 0.0
        render_timer.calls = jinja_timer.calls = 0
        batches = kept = receives = deletes = 0
        handler_seconds = handler_cpu = 0.0
        while not stop.is_set():
            got = receive(sqs, url, 1)
            if not got:
                continue
            receives += 1
            deadline = time.monotonic() + source.window
            while len(got) < source.batch_size and time.monotonic() < deadline:  # the batching window
                more = receive(sqs, url, 0, min(10, source.batch_size - len(got)))
                got += more
                receives += 1 if more else 0
                if not more:
                    time.sleep(0.01)
            started, cpu = time.perf_counter(), time.process_time()
            response = sender.process({"Records": [sqs_record(m, arn, "us-east-1") for m in got]}, deps=deps)
            handler_seconds += time.perf_counter() - started
            handler_cpu += time.process_time() - cpu
            failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
            done = [m for m in got if m["MessageId"] not in failed]
            for start in range(0, len(done), 10):  # DeleteMessageBatch takes 10
                sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                                for i, m in enumerate(done[start:start + 10])])
                deletes += 1
            batches += 1
            kept += len(failed)
            with handled.get_lock():
                handled.value += len(done)
        figures = {"batches": batches, "partial_failures": kept, "receives": receives, "deletes": deletes,
                   "handler_seconds": handler_seconds, "handler_cpu_seconds": handler_cpu,
                   "render": {"seconds": render_timer.seconds, "calls": render_timer.calls},
                   "jinja": {"seconds": jinja_timer.seconds, "calls": jinja_timer.calls}}
        if probe is not None:
            figures["probe"] = probe_figures(probe)
            probe.detach_all()
            # the outcomes' PartiQL statements, billed by the items they left (DynamoDB Local reports nothing)
            figures["probe"]["statements"] = len(probe.statements_written)
            figures["probe"]["statement_units"] = probe.statement_write_units(raw_client)
        results.put(figures)


class Consumers:
    """N sender execution environments draining the queue together."""

    def __init__(self, n: int, url: str, arn: str, customer_url: str) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.results, self.handled, self.stop = ctx.Queue(), ctx.Value("i", 0), ctx.Event()
        self.commands = [ctx.Queue() for _ in range(n)]
        self.workers = [ctx.Process(target=consumer, args=(url, arn, customer_url, c, self.results, self.handled,
                                                           self.stop), daemon=True) for c in self.commands]
        for w in self.workers:
            w.start()

    def start(self, measure: bool) -> None:
        self.stop.clear()
        with self.handled.get_lock():
            self.handled.value = 0
        for c in self.commands:
            c.put("measure" if measure else "run")

    def drain(self, expected: int) -> dict:
        """Waits until `expected` messages were handled, then collects every environment's figures."""
        last, idle_since = -1, time.monotonic()
        while self.handled.value < expected:
            if self.handled.value != last:
                last, idle_since = self.handled.value, time.monotonic()
            elif time.monotonic() - idle_since > 30:
                raise AssertionError(f"the queue ran dry after {last} of {expected} messages")
            if not all(w.is_alive() for w in self.workers):
                raise AssertionError("a sender environment died")
            time.sleep(0.01)
        self.stop.set()
        total: dict = {}
        for _ in self.workers:
            add_figures(total, self.results.get(timeout=60))
        total["messages"] = self.handled.value
        return total

    def floor(self, n: int, item_bytes: int, tag: str) -> float:
        """The floor at the path's concurrency: every environment puts its share of n day-sized items at once,
        one after another as a sender writes; items a second over the span of them all."""
        for k, c in enumerate(self.commands):
            c.put({"n": n // len(self.commands) + (k < n % len(self.commands)), "bytes": item_bytes,
                   "tag": f"{tag}.{k}"})
        spans = [self.results.get(timeout=600) for _ in self.commands]
        return n / (max(e for _, e in spans) - min(b for b, _ in spans))

    def close(self) -> None:
        for c in self.commands:
            c.put("exit")
        for w in self.workers:
            w.join(timeout=10)


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) a process has used so far, from /proc (Linux)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def floor_puts(client, command: dict) -> tuple[float, float]:
    """One writer of the floor: conditional put_item of day-sized items into the deliveries table, one after
    another; returns (start, end) on the machine's clock, comparable across processes."""
    table, pad = f"{STACK}-deliveries", "x" * max(command["bytes"] - 60, 1)
    start = time.time()
    for i in range(command["n"]):
        # conditional, as a brief's plan is (the day's first push: the day must not exist yet)
        client.put_item(TableName=table, Item={"pk": {"S": f"raw{command['tag']}#{i:07d}"}, "sk": {"S": "raw"},
                                               "data": {"S": pad}}, ConditionExpression="attribute_not_exists(pk)")
    return start, time.time()


def direct_figures(runs: list[dict], briefs: int) -> dict:
    """Capacity, calls and time of runs together, per brief (sent, or handed to an owner: the caller says)."""
    figures: dict = {}
    for r in runs:
        add_figures(figures, {k: v for k, v in r.items() if k in ("probe", "dispatch_probe")})
    probe = add_figures(add_figures({}, figures.get("dispatch_probe", {})), figures.get("probe", {}))
    per = max(briefs, 1)
    write = probe["write"] + probe.get("statement_units", 0.0)
    return {"write_units_per_brief": round(write / per, 3), "read_units_per_brief": round(probe["read"] / per, 3),
            "partiql_write_units_per_brief": round(probe.get("statement_units", 0.0) / per, 3),
            "capacity_units_by_operation": {k: round(v, 1) for k, v in sorted(probe["units"].items())},
            "dynamodb_calls_per_brief": {k: round(v / per, 3) for k, v in sorted(probe["calls"].items())},
            "dynamodb_calls_by_table": dict(sorted(probe["by_table"].items())),
            "dynamodb_seconds_by_operation": {k: round(v, 3) for k, v in sorted(probe["seconds"].items())},
            "_write": write, "_read": probe["read"]}


def brief_cost(runs: list[dict], figures: dict, sent: int) -> dict:
    """$ per million direct-channel briefs: their DynamoDB units, the queue's requests (the dispatcher's
    batches of 10, the senders' receives and deletes), the sender's and the dispatcher's CPU time (their wall
    time here waits for 2 cores shared with the emulator and the queue) at the template's memory."""
    messages = sum(r["dispatch"]["messages"] for r in runs)
    sqs = sum(-(-r["dispatch"]["messages"] // 10) + r["receives"] + r["deletes"] for r in runs)
    usage = Usage(write_units=figures["_write"] / sent, read_units=figures["_read"] / sent, sqs_requests=sqs / sent)
    usage.add_lambda(SEND_FUNCTION, sum(r["handler_cpu_seconds"] for r in runs) / sent, memory_mb(SEND_FUNCTION),
                     sum(r["batches"] for r in runs) / sent)
    usage.add_lambda(DISPATCH_FUNCTION, sum(r["dispatch_cpu_seconds"] for r in runs) / sent,
                     memory_mb(DISPATCH_FUNCTION), len(runs) / sent)
    return {**cost(usage), "messages_per_brief": round(messages / sent, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=scaled(6_000, least=300),
                        help="direct-channel groups of each measured run")
    parser.add_argument("--runs", type=int, default=2, help="direct-channel runs, each between two floor samples")
    parser.add_argument("--customer-groups", type=int, default=scaled(2_000, least=100),
                        help="WeCom customer groups of the run reported apart")
    parser.add_argument("--raw", type=int, default=0, help="items a floor sample puts (0: as many as --groups)")
    parser.add_argument("--owners", type=int, default=5, help="owners of the customer groups")
    parser.add_argument("--warm", type=int, default=scaled(2000, least=300), help="groups of the warm-up tenant")
    parser.add_argument("--consumers", type=int, default=3,
                        help=f"{SEND_FUNCTION} execution environments draining the queue at once (processes)")
    args = parser.parse_args()
    began = time.perf_counter()
    sys.stdout, stdout = sys.stderr, sys.stdout  # the handlers print their logs; stdout's last line is the report

    from qunyun_ops.local.dynamodb import DynamoDBLocal, free_port
    from qunyun_ops.local.sqs import SqsLocal, create_queues, sqs_client

    port = free_port()
    local_env(port)
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    with Fakes() as fakes, SqsLocal(log=log) as sqs_server, DynamoDBLocal(port, log=log) as server:
        os.environ.update(fakes.environment())
        os.environ.update({"AWS_ENDPOINT_URL_SQS": sqs_server.endpoint, "QUNYUN_SQS_ENDPOINT": sqs_server.endpoint})
        from qunyun_ops.local.stack import ddb_client
        from qunyun_ops.local.tables import create_tables
        from qunyun_ops.local.template import Template
        from qunyun_ops.local.workers import queue_arn
        from qunyun_ops.paths import TEMPLATE

        template = Template.read(TEMPLATE)
        raw_client = ddb_client(server.endpoint)
        create_tables(raw_client, template, STACK, streams=False)
        sqs = sqs_client(sqs_server.endpoint)
        url = create_queues(sqs, template, STACK)[SEND_QUEUE]
        os.environ[SEND_QUEUE_ENV] = url
        arn = queue_arn(template.queue_name(SEND_QUEUE, STACK), "us-east-1")

        consumers = Consumers(args.consumers, url, arn, fakes.customer.base_url)
        import importlib

        import yaml
        from qunyun.adapters.content import ContentRepository
        from qunyun.adapters.deliveries import DeliveryRepository, day_key
        from qunyun.adapters.groups import GroupRepository
        from qunyun.adapters.secrets import corp_ref, secret_store
        from qunyun.adapters.tenants import TenantRepository
        from qunyun.domain.briefs import parse_brief
        from qunyun.services.briefs import add_brief
        from qunyun.services.groups import import_groups
        from qunyun.services.tenants import create_tenant

        brief_dispatch = importlib.import_module(DISPATCH_MODULE)
        checkpoint_of = importlib.import_module(CHECKPOINT_ADAPTER).DispatchCheckpoint
        push_queue = importlib.import_module(QUEUE_ADAPTER).PushQueue(url)
        tenants, groups, secrets = TenantRepository(), GroupRepository(), secret_store()
        deliveries = DeliveryRepository()
        direct = tuple(c for c in CHANNELS if c != "wecom_customer_group")

        def tenant_with_groups(tag: str, n: int, at: str, channels: tuple[str, ...]) -> Counter:
            create_tenant(tag, tag, None, tenants=tenants, secrets=secrets)
            secrets.put_many({corp_ref(secrets, tag, "corp_id").removeprefix(secrets.PREFIX): CORP[0],
                              corp_ref(secrets, tag, "corp_secret").removeprefix(secrets.PREFIX): CORP[1]})
            mix, rows = Counter(), [HEADER]
            for i in range(n):
                channel, row = fakes.row(tag, i, args.owners, channels)
                mix[channel] += 1
                rows.append(row.replace(",08:00,", f",{at[11:16]},"))
            import_groups(tag, "\n".join(rows) + "\n", tenants=tenants, groups=groups, secrets=secrets)
            brief = parse_brief(yaml.safe_load(brief_yaml(DAY)))
            add_brief(tenants.get(tag), brief, content=ContentRepository(), now=datetime.now(UTC))
            return mix

        def run(tag: str, at: str, measure: bool) -> dict:
            """Dispatch while the consumers wait on the queue, until they have handled every message."""
            dispatch_deps = dataclasses.replace(brief_dispatch.default_deps(), deliveries=deliveries,
                                                checkpoint=checkpoint_of(tag), queue=push_queue)
            processes = {"dynamodb_local": server.process.pid, "sqs_endpoint": sqs_server.process.pid,
                         "benchmark_process": os.getpid(),
                         **{f"send_{n}": w.pid for n, w in enumerate(consumers.workers, 1)}}
            probe = Probe().attach_all(dynamodb_clients()) if measure else None
            consumers.start(measure=measure)
            cpu0 = {name: cpu_seconds(pid) for name, pid in processes.items()}
            t0, thread_cpu = time.perf_counter(), time.thread_time()
            summary = brief_dispatch.process({"scheduled_time": at}, deps=dispatch_deps)
            t1, dispatch_cpu = time.perf_counter(), time.thread_time() - thread_cpu
            if probe is not None:
                dispatch_probe = probe_figures(probe)
                probe.detach_all()
            drained = consumers.drain(summary["messages"])
            t2 = time.perf_counter()
            cpu = {name: round(cpu_seconds(pid) - cpu0[name], 1) for name, pid in processes.items()}
            statuses = Counter(r.status.value for r in deliveries.on_day(tag, DAY))
            return {"tenant": tag, "dispatch": summary, "dispatch_seconds": t1 - t0, "send_seconds": t2 - t1,
                    "seconds": t2 - t0, "dispatch_cpu_seconds": dispatch_cpu, "cpu_seconds": cpu,
                    "statuses": dict(statuses), **({"dispatch_probe": dispatch_probe} if measure else {}), **drained}

        def quiet_render(tenant_id: str) -> dict:
            """`render_brief` for the tenant's groups, as the sender calls it, once nothing else runs: the
            render's own cost, where the run's figure also holds the waits of a CPU shared by every process."""
            import qunyun.services.briefs as brief_service
            from qunyun.adapters.points_ledger import PointsLedger
            from qunyun.services.briefs import DayBoards, render_brief

            tenant, ledger, now = tenants.get(tenant_id), PointsLedger(), datetime.now(UTC)
            brief = ContentRepository().brief(tenant_id, DAY, "morning")
            boards = DayBoards(ledger, tenant_id, DAY - timedelta(days=1), now)
            sample = list(groups.list(tenant_id))
            jinja = Timed(brief_service, "render")
            jinja.on = True
            start = time.perf_counter()
            for group in sample:
                render_brief(tenant, group, brief, ledger=ledger, now=now, boards=boards)
            seconds = time.perf_counter() - start
            jinja.on = False
            return {"calls": len(sample), "seconds": seconds, "jinja_seconds": jinja.seconds}

        log(f"warm-up: {args.warm} direct-channel groups on tenant bench-warm ...")
        tenant_with_groups("bench-warm", args.warm, WARM_AT, direct)
        run("bench-warm", WARM_AT, False)
        warm_record = deliveries.on_day("bench-warm", DAY)[0]
        pk, sk = day_key("bench-warm", DAY, warm_record.group_id)
        item = raw_client.get_item(TableName=f"{STACK}-deliveries", Key={"pk": {"S": pk}, "sk": {"S": sk}})["Item"]
        item_bytes = len(json.dumps(item, separators=(",", ":")))

        # One tenant a run, each its own slot (08:00, 08:30, ...), so a run dispatches its own groups only.
        slots = [f"2026-12-01T{8 + k // 2:02d}:{30 * (k % 2):02d}:00+08:00" for k in range(args.runs + 1)]
        log(f"setup: {args.runs} tenants of {args.groups} direct-channel groups, one of {args.customer_groups} "
            "WeCom customer groups ...")
        mixes = [tenant_with_groups(f"bench-{k}", args.groups, slots[k - 1], direct) for k in range(1, args.runs + 1)]
        tenant_with_groups("bench-cg", args.customer_groups, slots[-1], ("wecom_customer_group",))
        before = fakes.received()
        raw_n = args.raw or args.groups
        runs: list[dict] = []

        def path(k: int):
            def one() -> float:
                log(f"direct {k}: dispatch as at {slots[k - 1]}, then {SEND_FUNCTION} in {args.consumers} "
                    "environment(s) ...")
                runs.append(run(f"bench-{k}", slots[k - 1], True))
                return runs[-1]["statuses"].get("sent", 0) / runs[-1]["seconds"]
            return one

        def floor(k: int) -> float:
            log(f"floor {k}: {raw_n} put_item of {item_bytes} bytes by {args.consumers} writers ...")
            return consumers.floor(raw_n, item_bytes, f"raw{k}")

        floors, rates = interleaved(floor, [path(k) for k in range(1, args.runs + 1)])
        log(f"customer groups: dispatch as at {slots[-1]}, handed to {args.owners} owners ...")
        customer = run("bench-cg", slots[-1], True)
        consumers.close()
        after = fakes.received()
        log("render: the same groups' briefs again, on a machine no longer sending ...")
        quiet = quiet_render("bench-1")

    sent = sum(r["statuses"].get("sent", 0) for r in runs)
    assert sent == args.groups * args.runs, f"{sent} of {args.groups * args.runs} direct briefs sent"
    figures = direct_figures(runs, sent)
    handed = customer["statuses"].get("awaiting_owner", 0)
    cg = direct_figures([customer], handed)
    out = {
        "benchmark": "briefs", "groups_per_run": args.groups, "runs": args.runs, "send_environments": args.consumers,
        "channels": dict(sorted(sum(mixes, Counter()).items())),
        "direct": {"sent": sent, "sent_per_s": [round(r, 1) for r in rates],
                   "seconds": [round(r["seconds"], 3) for r in runs],
                   "dispatch_seconds": [round(r["dispatch_seconds"], 3) for r in runs],
                   "statuses": dict(sum((Counter(r["statuses"]) for r in runs), Counter())),
                   "sqs_batches": sum(r["batches"] for r in runs),
                   "partial_failures": sum(r["partial_failures"] for r in runs),
                   "cpu_seconds_during_runs": dict(sum((Counter(r["cpu_seconds"]) for r in runs), Counter())),
                   # one sender invocation's time a brief, wall (waiting on the emulator, the queue and the fakes
                   # on the same cores) and CPU: what docs/scale.md sizes the senders' concurrency from
                   "sender_handler_ms_per_brief": round(sum(r["handler_seconds"] for r in runs) / sent * 1000, 3),
                   "sender_handler_cpu_ms_per_brief": round(sum(r["handler_cpu_seconds"] for r in runs) / sent * 1000,
                                                            3),
                   **{k: v for k, v in figures.items() if not k.startswith("_")}},
        "floor": {"writers": args.consumers, "items_per_sample": raw_n, "item_bytes": item_bytes,
                  "puts_per_s": [round(f, 1) for f in floors]},
        "wecom_customer_groups": {"groups": args.customer_groups, "owners": args.owners, "handed_to_owners": handed,
                                  "statuses": customer["statuses"], "seconds": round(customer["seconds"], 3),
                                  "tasks_created": after["wecom_customer_group_tasks"]
                                  - before["wecom_customer_group_tasks"],
                                  **{k: v for k, v in cg.items() if not k.startswith("_")}},
        "fakes_received": {k: after[k] - before[k] for k in after},
        "render_ms_per_brief": round(quiet["seconds"] / max(quiet["calls"], 1) * 1000, 3),
        "jinja_render_ms_per_brief": round(quiet["jinja_seconds"] / max(quiet["calls"], 1) * 1000, 3),
        "cpu_count": os.cpu_count(), "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "total_seconds": round(time.perf_counter() - began, 1),
    }
    ratio = ratios(floors, rates)
    out["ratio_direct_to_floor"] = asdict(ratio)
    out["cost"] = brief_cost(runs, figures, sent)
    checks = [
        Check.of_ratio("briefs", "direct-channel briefs sent a second, end to end", spread(rates).median, "/s",
                       spread(floors).median, ratio, Target(at_least=0.5)),
        Check.of_figure("briefs", "write units a sent brief", figures["write_units_per_brief"], "WU",
                        Target(at_most=1.5)),
        Check.of_figure("briefs", "render_brief a brief", out["render_ms_per_brief"], "ms", Target(at_most=1.0)),
        Check.of_figure("briefs", "$ per million briefs", out["cost"]["usd_per_million"]["total"], "USD",
                        Target(at_most=2.0)),
    ]
    sys.stdout = stdout
    report(out, checks)


if __name__ == "__main__":
    main()
