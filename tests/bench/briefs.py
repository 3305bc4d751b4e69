"""Benchmark: a morning brief to N groups (default 10,000), dispatch → queue → send → record, on the local stack.

    .venv/bin/python tests/bench/briefs.py [--groups N] [--raw N] [--owners K] [--consumers C] [--direct]

Everything runs against one DynamoDB Local of its own, a local SQS endpoint of its own (moto's server, as
`qunyun local up` runs it: qunyun_ops/local/sqs.py) and the channel fakes of tests/fakes/ on loopback:

* setup (not measured): one tenant; N groups imported from CSV by the real service, in a mix of channels
  (wecom_robot, feishu_bot, dingtalk_robot, slack_webhook, telegram_bot, signed_webhook, outbox, each with a
  robot/bot of its own so no platform rate limit is met, and one eighth wecom_customer_group spread over
  --owners owners); a morning brief of six sections (news, tip, product, event, check-in, text; two of them
  targeted) added with the real service. A warm-up tenant of --warm groups (default 2,000) goes through the
  same path first (connections, templates, and DynamoDB Local's JIT: its CPU per call falls by more than half
  over its first few thousand calls, and the floor, measured last, would otherwise meet a warmer emulator
  than the run).
* measured: `brief_dispatch.process` for the scheduled time (one SendMessageBatch per 10 messages) while
  --consumers SendPushes execution environments (processes of their own, default 3: Lambda runs as many
  as the queue needs, and on 2 cores 3 keep them busiest: 2 leave a third idle, 4 contend) drain the queue
  as Lambda's event source mapping does (qunyun_ops.local.sqs):
  receive up to SendPushes' BatchSize within its MaximumBatchingWindowInSeconds (template.yaml), call
  `send_pushes.process` with the SQS event, delete what it did not report back. Delivered = records `sent`
  (robots, bots, outbox, webhooks) or `awaiting_owner` (customer groups, whose owner's task was created),
  counted from the records.
* the floor: plain boto3 put_item of N items of a group day's size into the deliveries table, sequential,
  in the same run (--raw items; 0 = N), sampled twice; the fastest sample counts.

CPU: each process's CPU time over the measured run (DynamoDB Local, the local SQS endpoint, each SendPushes
environment, and the benchmark's own process, which runs the dispatcher and the channel fakes), per delivered
brief, and the share of the machine's cores they kept busy.

Capacity is DynamoDB's own ConsumedCapacity of every call (CapacityMeter) on every client the code path uses.
DynamoDB Local reports TransactWriteItems per table touched, not per item, so the JSON adds the AWS estimate (2
write units per transaction item per started KB). It reports nothing for PartiQL statements (a WeCom owner's
groups' mass sends, plans and outcomes, BatchExecuteStatement; direct sends' outcomes are outcome-page puts): each
statement that wrote is billed as DynamoDB bills the same UpdateItem or PutItem, by the item it left, read after
the run (tests/support.py `write_units`; the rule agrees with DynamoDB Local's own billing of puts:
tests/integration/test_outcomes_batched.py), and counted in the write units per delivered brief. Render time is
`render_brief` per group (the board read included) and the Jinja2 render alone, measured once the run is over,
for the same groups as SendPushes calls it; the same figures taken during the run are reported too (they also
hold the waits of 2 cores shared by every process of the run).
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
from datetime import UTC, date, datetime, timedelta

from common import ROOT, STACK, Probe, local_env, report

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


def send_pushes_source():
    """SendPushes' event source as template.yaml declares it (BatchSize, MaximumBatchingWindowInSeconds)."""
    from qunyun_ops.local.template import Template

    template = Template.read(ROOT / "template.yaml")
    (source,) = [s for s in template.queue_sources if s.function == "SendPushes"]
    return source


def receive(sqs, url: str, wait: int, most: int = 10) -> list[dict]:
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=most, WaitTimeSeconds=wait,
                               MessageSystemAttributeNames=["All"]).get("Messages", [])


def consumer(url: str, arn: str, customer_url: str, commands, results, handled, stop) -> None:
    """One SendPushes execution environment (a process of its own, as Lambda runs them): Lambda's event source
    mapping in a loop: receive up to BatchSize messages within the batching window (template.yaml), call
    `send_pushes.process` with the SQS event, delete what it did not report back. Waits for a command per run;
    reports its figures when `stop` is set."""
    sys.stdout = sys.stderr
    import qunyun.services.brief_push as send_service
    import qunyun.services.briefs as brief_service
    import send_pushes
    from qunyun.channels.wecom_customer_group import WecomCustomerGroups
    from qunyun.settings import get_settings
    from qunyun_ops.local.sqs import sqs_client, sqs_record
    from qunyun_ops.local.stack import ddb_client

    deps = send_pushes.default_deps()
    raw_client = ddb_client(get_settings().dynamodb_endpoint)
    # The probe's clients, made now: some models' clients would otherwise be made for the probe inside the
    # measured run, though SendPushes never uses them.
    clients = dynamodb_clients([deps.send.ledger._connection.client])
    source = send_pushes_source()
    customer = WecomCustomerGroups(customer_url)
    deps.send.customer_groups = lambda: customer
    render_timer, jinja_timer = Timed(send_service, "render_brief"), Timed(brief_service, "render")
    sqs = sqs_client(os.environ["QUNYUN_SQS_ENDPOINT"])
    while (command := commands.get()) != "exit":
        probe = None
        if command == "measure":
            probe = Probe().attach_all(clients)
        render_timer.on = jinja_timer.on = command == "measure"
        render_timer.seconds = jinja_timer.seconds = 0.0
        render_timer.calls = jinja_timer.calls = 0
        batches = kept = 0
        while not stop.is_set():
            got = receive(sqs, url, 1)
            if not got:
                continue
            deadline = time.monotonic() + source.window
            while len(got) < source.batch_size and time.monotonic() < deadline:  # the batching window
                more = receive(sqs, url, 0, min(10, source.batch_size - len(got)))
                got += more
                if not more:
                    time.sleep(0.01)
            response = send_pushes.process({"Records": [sqs_record(m, arn, "us-east-1") for m in got]}, deps=deps)
            failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
            done = [m for m in got if m["MessageId"] not in failed]
            for start in range(0, len(done), 10):  # DeleteMessageBatch takes 10
                sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                                for i, m in enumerate(done[start:start + 10])])
            batches += 1
            kept += len(failed)
            with handled.get_lock():
                handled.value += len(done)
        figures = {"batches": batches, "partial_failures": kept,
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
    """N SendPushes execution environments draining the queue together."""

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
                raise AssertionError("a SendPushes environment died")
            time.sleep(0.01)
        self.stop.set()
        total: dict = {}
        for _ in self.workers:
            add_figures(total, self.results.get(timeout=60))
        total["messages"] = self.handled.value
        return total

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


def raw_floor(client, n: int, item_bytes: int, sample: int = 0) -> float:
    table = f"{STACK}-deliveries"
    pad = "x" * max(item_bytes - 60, 1)
    start = time.perf_counter()
    for i in range(n):
        client.put_item(TableName=table, Item={"pk": {"S": f"raw{sample}#{i:07d}"}, "sk": {"S": "raw"},
                                               "data": {"S": pad}})
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=10_000)
    parser.add_argument("--raw", type=int, default=0, help="raw put_item calls (0: as many as --groups)")
    parser.add_argument("--owners", type=int, default=5, help="owners of the customer groups")
    parser.add_argument("--warm", type=int, default=2000, help="groups of the warm-up tenant")
    parser.add_argument("--direct", action="store_true",
                        help="groups on direct channels only (no WeCom customer groups, their quota and owner tasks)")
    parser.add_argument("--consumers", type=int, default=3,
                        help="SendPushes execution environments draining the queue at once (processes)")
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
        create_tables(raw_client, template, STACK)
        sqs = sqs_client(sqs_server.endpoint)
        urls = create_queues(sqs, template, STACK)
        url = urls["PushQueue"]
        os.environ["PUSH_QUEUE_URL"] = url
        arn = queue_arn(template.queue_name("PushQueue", STACK), "us-east-1")

        consumers = Consumers(args.consumers, url, arn, fakes.customer.base_url)
        import brief_dispatch
        import yaml
        from qunyun.adapters.content import ContentRepository
        from qunyun.adapters.deliveries import DeliveryRepository
        from qunyun.adapters.dispatch_checkpoint import DispatchCheckpoint
        from qunyun.adapters.groups import GroupRepository
        from qunyun.adapters.push_queue import PushQueue
        from qunyun.adapters.secrets import corp_ref, secret_store
        from qunyun.adapters.tenants import TenantRepository
        from qunyun.domain.briefs import parse_brief
        from qunyun.services.briefs import add_brief
        from qunyun.services.groups import import_groups
        from qunyun.services.tenants import create_tenant

        tenants, groups, secrets = TenantRepository(), GroupRepository(), secret_store()
        deliveries = DeliveryRepository()

        # --direct: only the channels that post straight into the group (no WeCom customer groups)
        mix_channels = tuple(c for c in CHANNELS if c != "wecom_customer_group") if args.direct else CHANNELS

        def tenant_with_groups(tag: str, n: int, at: str) -> Counter:
            create_tenant(tag, tag, None, tenants=tenants, secrets=secrets)
            secrets.put_many({corp_ref(secrets, tag, "corp_id").removeprefix(secrets.PREFIX): CORP[0],
                              corp_ref(secrets, tag, "corp_secret").removeprefix(secrets.PREFIX): CORP[1]})
            mix, rows = Counter(), [HEADER]
            for i in range(n):
                channel, row = fakes.row(tag, i, args.owners, mix_channels)
                mix[channel] += 1
                rows.append(row.replace(",08:00,", f",{at[11:16]},"))
            import_groups(tag, "\n".join(rows) + "\n", tenants=tenants, groups=groups, secrets=secrets)
            brief = parse_brief(yaml.safe_load(brief_yaml(DAY)))
            add_brief(tenants.get(tag), brief, content=ContentRepository(), now=datetime.now(UTC))
            return mix

        def run(at: str, checkpoint: str, probe: Probe | None) -> dict:
            """Dispatch while the consumers wait on the queue, until they have handled every message."""
            dispatch_deps = dataclasses.replace(brief_dispatch.default_deps(), deliveries=deliveries,
                                                checkpoint=DispatchCheckpoint(checkpoint), queue=PushQueue(url))
            processes = {"dynamodb_local": server.process.pid, "sqs_endpoint": sqs_server.process.pid,
                         "benchmark_process": os.getpid(),
                         **{f"send_pushes_{n}": w.pid for n, w in enumerate(consumers.workers, 1)}}
            consumers.start(measure=probe is not None)
            cpu0 = {name: cpu_seconds(pid) for name, pid in processes.items()}
            t0 = time.perf_counter()
            summary = brief_dispatch.process({"scheduled_time": at}, deps=dispatch_deps)
            t1 = time.perf_counter()
            drained = consumers.drain(summary["messages"])
            t2 = time.perf_counter()
            cpu = {name: round(cpu_seconds(pid) - cpu0[name], 1) for name, pid in processes.items()}
            return {"dispatch": summary, "dispatch_seconds": t1 - t0, "send_seconds": t2 - t1, "seconds": t2 - t0,
                    "cpu_seconds": cpu, **drained}

        def quiet_render(tenant_id: str) -> dict:
            """`render_brief` for the tenant's groups, as SendPushes calls it, once nothing else runs: the
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

        log(f"warm-up: {args.warm} groups on tenant bench-warm ...")
        tenant_with_groups("bench-warm", args.warm, WARM_AT)
        run(WARM_AT, "bench-warm", None)

        log(f"setup: importing {args.groups} groups and the brief ...")
        mix = tenant_with_groups("bench", args.groups, AT)
        before = fakes.received()

        probe = Probe().attach_all(dynamodb_clients())
        log(f"measured: dispatch as at {AT}, then SendPushes over the queue in {args.consumers} environment(s) ...")
        measured = run(AT, "bench", probe)
        consumers.close()
        dispatch_figures = probe_figures(probe)
        probe.reset()
        probe.detach_all()
        figures = add_figures(add_figures({}, dispatch_figures), measured["probe"])
        read, write, calls, by_table = figures["read"], figures["write"], figures["calls"], figures["by_table"]
        tx_items, tx_aws_units = figures.get("tx_kinds", {}), figures["tx_aws_units"]
        op_seconds, units = figures["seconds"], figures["units"]
        statements, statement_units = figures.get("statements", 0), figures.get("statement_units", 0.0)
        write += statement_units
        render, jinja = measured["render"], measured["jinja"]

        log("render: the same groups' briefs again, on a machine no longer sending ...")
        quiet = quiet_render("bench")
        records = deliveries.on_day("bench", DAY)
        statuses = Counter(r.status.value for r in records)
        reasons = Counter(f"{r.status.value}:{r.reason}" for r in records if r.reason)
        delivered = statuses.get("sent", 0) + statuses.get("awaiting_owner", 0)
        after = fakes.received()
        received = {k: after[k] - before[k] for k in after}
        assert len(records) == args.groups, f"{len(records)} records for {args.groups} groups"

        from qunyun.adapters.deliveries import day_key

        pk, sk = day_key("bench", DAY, records[0].group_id)
        item = raw_client.get_item(TableName=f"{STACK}-deliveries", Key={"pk": {"S": pk}, "sk": {"S": sk}})["Item"]
        item_bytes = len(json.dumps(item, separators=(",", ":")))
        raw_n = args.raw or args.groups
        log(f"raw: {raw_n} put_item of {item_bytes} bytes ...")
        raw_floor(raw_client, min(500, raw_n), item_bytes)  # warm-up of the plain client
        # DynamoDB Local's put rate wanders between samples of one run: two samples, the fastest counts, so
        # the ratio is never flattered by a slow floor.
        raw_samples = [raw_floor(raw_client, raw_n, item_bytes, sample) for sample in (1, 2)]
        raw_seconds = min(raw_samples)

    e2e_rate = delivered / measured["seconds"]
    raw_rate = raw_n / raw_seconds
    per = max(delivered, 1)
    out = {
        "benchmark": "briefs", "groups": args.groups, "channels": dict(sorted(mix.items())),
        "customer_group_owners": 0 if args.direct else args.owners, "scheduled_time": AT,
        "delivered": delivered, "statuses": dict(sorted(statuses.items())), "reasons": dict(sorted(reasons.items())),
        "fakes_received": received,
        "seconds": round(measured["seconds"], 3), "dispatch_seconds": round(measured["dispatch_seconds"], 3),
        "send_seconds": round(measured["send_seconds"], 3),
        "dispatch": measured["dispatch"], "sqs_batches": measured["batches"],
        "sqs_partial_failures": measured["partial_failures"],
        "delivered_per_s": round(e2e_rate, 1),
        "raw_put_items": raw_n, "raw_put_seconds": round(raw_seconds, 3), "raw_put_per_s": round(raw_rate, 1),
        "raw_put_samples_per_s": [round(raw_n / x, 1) for x in raw_samples],
        "raw_item_bytes": item_bytes,
        "ratio_to_raw_put": round(e2e_rate / raw_rate, 3),
        "write_units_per_delivered": round(write / per, 3), "read_units_per_delivered": round(read / per, 3),
        "partiql_statements_per_delivered": round(statements / per, 3),
        "partiql_write_units_per_delivered": round(statement_units / per, 3),
        "aws_estimate_write_units_per_delivered": round(
            (write - units.get("TransactWriteItems", 0.0) + tx_aws_units) / per, 3),
        "capacity_units_by_operation": {k: round(v, 1) for k, v in sorted(units.items())},
        "dynamodb_calls_per_delivered": {k: round(v / per, 3) for k, v in sorted(calls.items())},
        "dynamodb_calls_by_table": dict(sorted(by_table.items())),
        "dispatch_dynamodb_calls": dict(sorted(dispatch_figures["by_table"].items())),
        "send_environments": args.consumers,
        "transaction_items": dict(sorted(tx_items.items())),
        "dynamodb_seconds_by_operation": {k: round(v, 3) for k, v in sorted(op_seconds.items())},
        "render_ms_per_brief": round(quiet["seconds"] / max(quiet["calls"], 1) * 1000, 3),
        "render_calls": quiet["calls"],
        "jinja_render_ms_per_brief": round(quiet["jinja_seconds"] / max(quiet["calls"], 1) * 1000, 3),
        "render_ms_per_brief_during_run": round(render["seconds"] / max(render["calls"], 1) * 1000, 3),
        "jinja_render_ms_per_brief_during_run": round(jinja["seconds"] / max(jinja["calls"], 1) * 1000, 3),
        "targets": {"ratio_at_least": 0.4, "write_units_at_most": 2.0, "render_ms_at_most": 1.0},
        "cpu_count": os.cpu_count(), "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "cpu_seconds_during_run": measured["cpu_seconds"],
        "cpu_ms_per_delivered": {k: round(v * 1000 / per, 2) for k, v in measured["cpu_seconds"].items()},
        "cpu_busy_share_during_run": round(sum(measured["cpu_seconds"].values())
                                           / (measured["seconds"] * (os.cpu_count() or 1)), 3),
        "total_seconds": round(time.perf_counter() - began, 1),
    }
    out["targets"].update({"ratio_met": out["ratio_to_raw_put"] >= 0.4,
                           "write_units_met": out["write_units_per_delivered"] <= 2.0,
                           "render_met": out["render_ms_per_brief"] <= 1.0})
    sys.stdout = stdout
    report(out)


if __name__ == "__main__":
    main()
