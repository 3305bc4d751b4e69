"""Benchmark: what the guard adds to ProcessGroupEvents, and the inactivity sweep of G groups of 200 members.

    .venv/bin/python tests/bench/guard.py [--events N] [--groups G] [--clients 4] [--runs 2] [--sweep-groups G]

One DynamoDB Local, one local SQS endpoint (the welcomes' and the guard's queues) and a fake Telegram Bot API of
their own.

* the guard: the inbound benchmark's burst (burst.py: messages from G groups of 200 members, 1% joins and leaves,
  1% offending messages), built directly as the group events InboundApi queues (its platforms' normalisers), in
  the same batches (the template's BatchSize, at most 6 MB, as many per environment), run by
  `process_group_events.process` in --clients processes (an execution environment each), for tenants without
  group rules (the floor) and tenants with 200 rules set as `qunyun guard set` sets them (150 words, 50
  patterns, links other than an allowed domain): floor, guarded, floor, guarded, floor, each with tenants of
  their own, its environments' caches warmed first by a message from each group (a tenant's steady state: the
  chats, the guard's groups and rules are cached for minutes). ProcessGroupEvents matches each message against
  the rules and hands those that match to the guard's FIFO queue (template.yaml's GuardQueue, on the local SQS
  endpoint); after each guarded run, not inside its time, `guard_offences.process` drains it in the same
  environments as Lambda's event source would (10 at a time): offences are recorded, the messages deleted and
  their senders warned, and a second offence in the window removes (ban and unban) at the fake. Reported too:
  GuardOffences' time, units and calls an offending message, and the whole guard's time a message event.
  Target: the guarded time a message event at most 1.2x the floor's.
* the sweep: `sweep_inactive.process` for one tenant of --sweep-groups Telegram groups (1,000; QUICK: 100) of 200
  members, 30 days of activity pages (a page a group and day), group rules set (mode report). Every item a
  DynamoDB answer carries is counted by its key; the floor: boto3 Queries, one after another as the sweep reads,
  of the same items (each group's activity pages of the 30 days and its roster), taken before and after.
  Targets: no item read twice; the sweep within 2x the floor's time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import burst
from common import ROOT, STACK, Probe, local_env, report
from environments import Clients, deal, merged
from harness import Check, Target, interleaved, ratios, scaled, spread
from inbound import CONSUMER, log, make_tenant

sys.path.insert(0, str(ROOT / "tests"))


def set_rules(tenant_id: str) -> int:
    """The 200 rules, checked whole and stored as `qunyun guard set FILE.yaml` does."""
    from qunyun.adapters.guard_rules import GuardRulesStore
    from qunyun.domain.guard_rules import GroupRules
    from qunyun.services.guard_rules import set_rules as store_rules

    return store_rules(tenant_id, GroupRules.model_validate(burst.guard_rules()), datetime.now(UTC),
                       store=GuardRulesStore())


def bodies_for(n: int, groups: int, wecom: int) -> list[str]:
    """The burst's group events with a placeholder tenant (swapped per tenant: the same batches for each)."""
    from qunyun.domain.group_events import GROUP_EVENT

    at = int(time.time())
    return [GROUP_EVENT.dump_json(e).decode() for i in range(n)
            for e in burst.group_events("TENANT", i, groups, wecom, 1, at)]


# ---- the guard's share of ProcessGroupEvents -------------------------------------------------------

def guard_phase(args, clients, template_bodies: list[str], batch_size: int, wecom: int, telegram) -> tuple:
    from fakes.callbacks import aes_key
    from qunyun.domain.group_events import GROUP_EVENT

    key, n, at = aes_key(), len(template_bodies), int(time.time())

    def warm(tenant: str) -> list[str]:
        return [GROUP_EVENT.dump_json(e).decode() for i in range(args.groups)
                if burst.kind(i) == "message" and not burst.is_offending(i)
                for e in burst.group_events(tenant, i, args.groups, wecom, 2, at)]
    runs: dict[str, list] = {"plain": [], "guarded": []}
    offences: list[tuple[dict, float]] = []
    offending_per_run = sum(1 for i in range(n) if burst.is_offending(i))

    def run(name: str, tenant: str, rules: bool) -> float:
        make_tenant(tenant, args.groups, wecom, key)
        if rules:
            set_rules(tenant)
        bodies = [b.replace('"tenant_id":"TENANT"', f'"tenant_id":"{tenant}"') for b in template_bodies]
        batches = burst.plan_batches(bodies, args.clients, batch_size)
        # Each environment's caches warm for the tenant (chats, the guard's groups and rules), as in a tenant's
        # steady state: a batch of a message from each group, not timed.
        clients.run({"kind": "process", "tag": f"{tenant}-warm", "batches": [[warm(tenant)]] * args.clients})
        log(f"{name} {tenant}: {n} events in {len(batches)} batches by {args.clients} environments ...")
        results, wall = clients.run({"kind": "process", "tag": tenant, "batches": deal(batches, args.clients)})
        m = merged(results)
        assert m["failures"] == 0, f"{m['failures']} records came back as batch item failures"
        runs[name].append((m, wall, len(batches)))
        log(f"  {n / wall:.0f} events/s")
        if rules:  # the offences it handed over, drained by GuardOffences after the timed run (not inside it)
            drained, drain_wall = clients.run({"kind": "offences"})
            d = merged(drained)
            assert d["failures"] == 0, f"GuardOffences failed {d['failures']} records"
            assert d["handled"] == offending_per_run, f"{d['handled']} queued of {offending_per_run} offending"
            offences.append((d, drain_wall))
            log(f"  GuardOffences: {d['handled']} offending messages in {drain_wall:.2f} s")
        return wall / n

    before = (len(telegram.received), len(telegram.bans))
    asked = len(telegram.requests)
    floors, paths = interleaved(lambda k: run("plain", f"plain-{k}", False),
                                [lambda r=r: run("guarded", f"guarded-{r}", True) for r in range(1, args.runs + 1)])
    offending = sum(1 for i in range(n) if burst.is_offending(i)) * args.runs
    requests = telegram.requests[asked:]
    # Deletions asked for: every run's tenants share the fake's chats and message ids, and the fake skips a message
    # already deleted in a chat (as Telegram does), so its list of deleted messages would undercount them.
    deleted = sum(len(r.json()["message_ids"]) if r.path.endswith("/deleteMessages") else 1
                  for r in requests if r.path.endswith(("/deleteMessages", "/deleteMessage")))
    posted, bans = len(telegram.received) - before[0], len(telegram.bans) - before[1]
    assert deleted == offending, f"{deleted} messages deleted for {offending} offending"
    methods = Counter(r.path.rpartition("/")[2] for r in requests)
    out = {"events": n, "batches_per_run": runs["plain"][0][2], "offending_messages": offending // args.runs,
           "deleted": deleted, "warnings_posted": posted, "removals": bans,
           # the guarded runs' calls to the Bot API, by method (per run)
           "telegram_calls_per_run": {k: v / args.runs for k, v in sorted(methods.items())}}
    for name, rows in runs.items():
        m = merged([x for x, _, _ in rows])
        events, batches = n * len(rows), sum(b for _, _, b in rows)
        out[name] = {"ms_per_event": [round(w / n * 1000, 4) for _, w, _ in rows],
                     "cpu_ms_per_event": round(m["cpu"] / events * 1000, 4),
                     "write_units_per_event": round(m["write"] / events, 4),
                     "read_units_per_event": round(m["read"] / events, 4),
                     "dynamodb_calls_per_batch": {k: round(v / batches, 2) for k, v in sorted(m["calls"].items())}}
    d = merged([x for x, _ in offences])
    handled = d["handled"]
    out["guard_offences"] = {
        "offending_messages": handled, "invocations": d["invocations"],
        "ms_per_offending_message": [round(w / x["handled"] * 1000, 3) for x, w in offences],
        "cpu_ms_per_offending_message": round(d["cpu"] / handled * 1000, 3),
        "write_units_per_offending_message": round(d["write"] / handled, 3),
        "read_units_per_offending_message": round(d["read"] / handled, 3),
        "dynamodb_calls_per_invocation": {k: round(v / d["invocations"], 2) for k, v in sorted(d["calls"].items())},
        # the whole guard (ProcessGroupEvents' share and GuardOffences, one after the other) a message event
        "ms_per_event_with_guard_offences": [round((w + dw) / n * 1000, 4)
                                             for (_, w, _), (_, dw) in zip(runs["guarded"], offences, strict=True)]}
    ratio = ratios(floors, paths)
    out["ratio_guarded_to_plain_time"] = asdict(ratio)
    check = Check.of_ratio("guard", f"{CONSUMER} time a message event, 200 rules, 1% offending",
                           spread(paths).median * 1000, "ms", spread(floors).median * 1000, ratio, Target(at_most=1.2))
    return out, check


# ---- the sweep ----------------------------------------------------------------------------------------

class ItemReads:
    """Counts every item a DynamoDB answer carries, by table and key (the table's key attributes)."""

    def __init__(self, raw) -> None:
        self.keys = {t: [k["AttributeName"] for k in raw.describe_table(TableName=t)["Table"]["KeySchema"]]
                     for t in raw.list_tables()["TableNames"]}
        self.reads: Counter = Counter()
        self._table: str | None = None

    def attach(self, clients) -> ItemReads:
        for c in clients:
            c.meta.events.register("provide-client-params.dynamodb", self._ask)
            c.meta.events.register("after-call.dynamodb", self._count)
        return self

    def _ask(self, params, **_):
        self._table = params.get("TableName")

    def _count(self, parsed, model, **_):
        found = [(self._table, i) for i in parsed.get("Items") or []]
        found += [(self._table, parsed["Item"])] if parsed.get("Item") else []
        found += [(t, i) for t, items in (parsed.get("Responses") or {}).items() if isinstance(items, list)
                  for i in items]
        for table, item in found:
            self.reads[(table, tuple(next(iter(item[k].values())) for k in self.keys[table]))] += 1

    def twice(self) -> int:
        return sum(1 for n in self.reads.values() if n > 1)


def sweep_world(tenant_id: str, groups: int, now: datetime) -> None:
    """G Telegram groups of 200 members (a tenth joined 2 days ago: newcomers), 30 days of activity pages: member
    m speaks on day d when (m + d) % 4 == 0, except every tenth member, who never speaks."""
    from fakes.callbacks import aes_key
    from qunyun.adapters.activity import ActivityStore
    from qunyun.adapters.community_tables import RosterItem
    from qunyun.domain.activity import Page, Sent

    make_tenant(tenant_id, groups, 0, aes_key())
    set_rules(tenant_id)
    with RosterItem.batch_write() as batch:
        for g in range(groups):
            for m in range(burst.MEMBERS):
                joined = now - timedelta(days=2 if m % 10 == 5 else 60)
                batch.save(RosterItem(f"{tenant_id}#ROSTER#tg{g:05d}", f"telegram:{1 + g * 1000 + m}",
                                      member_id=f"telegram:{1 + g * 1000 + m}", name=f"成员{m}", status="member",
                                      joined_at=joined, joined_how="link", changed_at=joined))
    pages = []
    for g in range(groups):
        for d in range(30):
            at = int((now - timedelta(days=d, hours=1)).timestamp())
            sent = [Sent(f"{g}-{d}-{m}", f"telegram:{1 + g * 1000 + m}", at) for m in range(burst.MEMBERS)
                    if (m + d) % 4 == 0 and m % 10 != 9]
            day = (now - timedelta(days=d, hours=1)).astimezone(ZoneInfo("Asia/Shanghai"))
            pages.append(Page(tenant_id, f"tg{g:05d}", day.date(), sent, {s.member_id: "成员" for s in sent}))
    ActivityStore().write_many(pages)


def raw_reads(raw, tenant_id: str, groups: int, first: str, last: str) -> tuple[float, float, int, float]:
    """The floor: each group's activity pages of the 30 days and its roster, Query after Query; returns (pages'
    seconds, all seconds, items, CPU seconds)."""
    table, items, pages_s = f"{STACK}-community", 0, 0.0

    def query(**kw) -> int:
        n, page = 0, {}
        while True:
            resp = raw.query(TableName=table, **kw, **page)
            n += len(resp["Items"])
            if "LastEvaluatedKey" not in resp:
                return n
            page = {"ExclusiveStartKey": resp["LastEvaluatedKey"]}

    start, cpu = time.perf_counter(), time.process_time()
    for g in range(groups):
        t = time.perf_counter()
        items += query(KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b", ExpressionAttributeValues={
            ":p": {"S": f"{tenant_id}#ACTIVITY#tg{g:05d}"}, ":a": {"S": first}, ":b": {"S": f"{last}$"}})
        pages_s += time.perf_counter() - t
        items += query(KeyConditionExpression="pk = :p", ExpressionAttributeValues={
            ":p": {"S": f"{tenant_id}#ROSTER#tg{g:05d}"}})
    return pages_s, time.perf_counter() - start, items, time.process_time() - cpu


def sweep_phase(args, raw) -> tuple[dict, list[Check]]:
    import sweep_inactive
    from support import dynamodb_clients

    now = datetime.now(UTC).replace(microsecond=0)
    today = now.astimezone(ZoneInfo("Asia/Shanghai")).date()
    first, last = (today - timedelta(days=29)).isoformat(), today.isoformat()
    tenant_id, g = "bench-sweep", args.sweep_groups
    log(f"sweep setup: {g} groups of {burst.MEMBERS} members, 30 days of activity ...")
    sweep_world(tenant_id, g, now)
    deps = replace(sweep_inactive.default_deps(), tenants=lambda: [tenant_id])
    reads = ItemReads(raw).attach(dynamodb_clients())
    probe = Probe().attach_all(dynamodb_clients())
    log("warm-up: raw Queries of every group, not timed ...")
    raw_reads(raw, tenant_id, g, first, last)
    floors: list[tuple[float, float, int, float]] = []
    sweeps: list[tuple[dict, float]] = []
    cpu_s: list[float] = []

    def floor(k: int) -> float:
        log(f"floor {k}: raw Queries of {g} groups' activity pages and rosters ...")
        floors.append(raw_reads(raw, tenant_id, g, first, last))
        return floors[-1][1]

    def sweep() -> float:
        log(f"sweep: SweepInactive for {tenant_id} at {now.isoformat()} ...")
        reads.reads.clear()
        probe.reset()
        start, cpu = time.perf_counter(), time.process_time()
        summary = sweep_inactive.process({"scheduled_time": now.isoformat()}, None, deps)
        sweeps.append((summary, time.perf_counter() - start))
        cpu_s.append(time.process_time() - cpu)
        return sweeps[-1][1]

    floor_s, sweep_s = interleaved(floor, [sweep])
    summary, seconds = sweeps[0]
    assert summary.get("groups") == g and summary.get("listed", 0) > 0, summary
    items = floors[0][2]
    ratio = ratios(floor_s, sweep_s)
    out = {"groups": g, "members": burst.MEMBERS, "summary": summary, "seconds": round(seconds, 3),
           "floor_seconds": [round(f[1], 3) for f in floors],
           "floor_pages_only_seconds": [round(f[0], 3) for f in floors],
           "floor_items": items, "items_read": sum(reads.reads.values()), "distinct_items_read": len(reads.reads),
           "items_read_twice": reads.twice(), "ratio_to_floor": asdict(ratio),
           # where the sweep's time goes: its CPU (this process) and its DynamoDB calls, against the floor's
           "cpu_seconds": round(cpu_s[0], 3), "floor_cpu_seconds": [round(f[3], 3) for f in floors],
           "dynamodb_calls": dict(sorted(probe.calls.items())), "read_units": round(probe.read, 1),
           "write_units": round(probe.write, 1),
           "dynamodb_seconds_by_operation": {k: round(v, 3) for k, v in sorted(probe.seconds.items())},
           "ratio_to_pages_only": asdict(ratios([f[0] for f in floors], sweep_s))}
    checks = [Check.of_figure("guard", "items the sweep read more than once", reads.twice(), "items",
                              Target(at_most=0)),
              Check.of_ratio("guard", f"sweep of {g} groups x {burst.MEMBERS} members", seconds, "s",
                             spread(floor_s).median, ratio, Target(at_most=2.0))]
    return out, checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=scaled(50_000), help="callbacks' events in each run")
    parser.add_argument("--groups", type=int, default=scaled(1_000, least=10), help="Telegram groups of the burst")
    parser.add_argument("--clients", type=int, default=4, help="ProcessGroupEvents environments at once")
    parser.add_argument("--runs", type=int, default=2, help="guarded runs, each between two runs without rules")
    parser.add_argument("--sweep-groups", type=int, default=scaled(1_000, least=10), help="groups swept")
    args = parser.parse_args()
    began = time.perf_counter()
    sys.stdout, stdout = sys.stderr, sys.stdout

    from fakes.base import RateWindow
    from fakes.callbacks import aes_key
    from fakes.telegram import FakeTelegramBot
    from qunyun_ops.local.dynamodb import DynamoDBLocal, free_port
    from qunyun_ops.local.sqs import SqsLocal, create_queues, sqs_client
    from qunyun_ops.local.stack import ddb_client
    from qunyun_ops.local.tables import create_tables
    from qunyun_ops.local.template import Template
    from qunyun_ops.paths import TEMPLATE

    port = free_port()
    local_env(port)
    os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
    wecom = max(args.groups // 10, 1)
    with FakeTelegramBot() as telegram, SqsLocal(log=log) as sqs_server, DynamoDBLocal(port, log=log) as server:
        # no rate limits: the guard's own calls are measured, not the fake's pacing of them
        telegram.per_group = telegram.per_bot = RateWindow(10**9, 1.0)
        for g in range(max(args.groups, args.sweep_groups)):
            telegram.add_bot(burst.bot_token(g))
            telegram.add_chat(burst.telegram_chat(g))
        template = Template.read(TEMPLATE)
        raw = ddb_client(server.endpoint)
        create_tables(raw, template, STACK, streams=False)
        urls = create_queues(sqs_client(sqs_server.endpoint), template, STACK)
        os.environ.update({"AWS_ENDPOINT_URL_SQS": sqs_server.endpoint, "QUNYUN_SQS_ENDPOINT": sqs_server.endpoint,
                           "PUSH_QUEUE_URL": urls["PushQueue"], "GUARD_QUEUE_URL": urls["GuardQueue"],
                           "QUNYUN_TELEGRAM_BASE_URL": telegram.base_url})
        batch_size = next(s.batch_size for s in template.queue_sources if s.function == CONSUMER)
        clients = Clients(args.clients)
        try:
            log(f"warm-up: {CONSUMER} in {args.clients} environments ...")
            make_tenant("bench-warm", args.groups, wecom, aes_key())
            set_rules("bench-warm")
            warm = [b.replace('"tenant_id":"TENANT"', '"tenant_id":"bench-warm"')
                    for b in bodies_for(800, args.groups, wecom)]
            clients.run({"kind": "process", "tag": "warm", "batches": deal(burst.plan_batches(
                warm, args.clients, batch_size), args.clients)})
            clients.run({"kind": "offences"})  # the warm-up's offences: GuardOffences' environments warm too
            guard, guard_check = guard_phase(args, clients, bodies_for(args.events, args.groups, wecom), batch_size,
                                             wecom, telegram)
        finally:
            clients.stop()
        sweep, sweep_checks = sweep_phase(args, raw)
    out = {"benchmark": "guard", "groups": args.groups, "clients": args.clients, "runs": args.runs,
           "rules": burst.RULE_WORDS + burst.RULE_PATTERNS, "guard": guard, "sweep": sweep,
           "total_seconds": round(time.perf_counter() - began, 1)}
    sys.stdout = stdout
    report(out, [guard_check, *sweep_checks])


if __name__ == "__main__":
    main()
