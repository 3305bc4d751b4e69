"""Benchmark: RollupMetrics closing one day of N groups (default 10,000) of M members (default 200).

    .venv/bin/python tests/bench/metrics.py [--groups N] [--members M] [--runs R]

Everything runs in this process against one DynamoDB Local of its own. The day is seeded (not measured) the way
the inbound path leaves it: each group's roster (M members, a few joined or left that day), its activity pages
(a quarter of the members speak, 3 messages each, in pages of 50 as ProcessGroupEvents' batches write them), a
quarter of the members checking in and one in fifty buying (earning entries on the ledger, with their event type,
paged under their day by PageEarnings from the points table's stream), a morning and an evening brief's delivery
records per group.

* path: `close_day` of services/metrics_rollup.py for the tenant's day, as RollupMetrics runs it, --runs times
  (a rerun of a day rewrites the same rows).
* the floor: a raw boto3 Query of every item the rollup reads (each group's roster and activity partitions, the
  day's earning pages, the day's delivery shards) and a BatchWriteItem of as many items as the rollup puts, of the
  same average bytes, sequential as the real path is; taken before, between and after the path's runs. The pages
  are read with the very Queries the rollup sent to them (the earnings and the redemptions, recorded in the
  warm-up).
* targets: the rollup's time at most 1.5x the floor's (the median of its ratios), at most 0.05 read units per
  member.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from zoneinfo import ZoneInfo

from common import STACK, Probe, local_env, pynamodb_client, report
from harness import Check, Target, interleaved, ratios, scaled, spread
from pages import paging

TZ = "Asia/Shanghai"
DAY = date(2026, 11, 25)
PAGE = 50  # messages per activity page: one ProcessGroupEvents batch's of a group


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def seed(tenant_id: str, groups: int, members: int) -> None:
    """The day's roster, activity, earnings and deliveries of every group (BatchWriteItem, not measured)."""
    from qunyun.adapters import points_keys
    from qunyun.adapters.activity import ActivityStore
    from qunyun.adapters.community_tables import RosterItem
    from qunyun.adapters.deliveries import DeliveryRepository
    from qunyun.adapters.points_tables import EntryItem
    from qunyun.domain.activity import Page, Sent
    from qunyun.domain.deliveries import Delivery, Status
    from qunyun.domain.quota import Push

    start = datetime.combine(DAY, clock(), ZoneInfo(TZ)).astimezone(UTC)
    now = start + timedelta(hours=23)
    repo, activity = DeliveryRepository(), ActivityStore()
    for g in range(groups):
        gid = f"g{g:05d}"
        with RosterItem.batch_write() as batch:
            for m in range(members):
                joined = start + timedelta(minutes=m) if m % 50 == 0 else start - timedelta(days=30)
                member = f"telegram:{g}.{m}"
                left = m % 97 == 1
                batch.save(RosterItem(f"{tenant_id}#ROSTER#{gid}", member, member_id=member,
                                      status="left" if left else "member", joined_at=joined, joined_how="link",
                                      left_at=start + timedelta(hours=3) if left else None,
                                      left_how="left" if left else None, changed_at=joined))
        sent = [Sent(f"{gid}.{m}.{k}", f"telegram:{g}.{m}", int((start + timedelta(minutes=m + k)).timestamp()))
                for m in range(0, members, 4) for k in range(3)]
        activity.write_many([Page(tenant_id, gid, DAY, sent[i:i + PAGE], {}) for i in range(0, len(sent), PAGE)])
        with EntryItem.batch_write() as batch:
            for m in range(0, members, 4):
                kind = "purchase" if m % 50 == 0 else "checkin"
                member = f"telegram:{g}.{m}"
                batch.save(EntryItem(points_keys.member_pk(tenant_id, member),
                                     points_keys.entry_sk(start + timedelta(minutes=m), f"e{g}.{m}"),
                                     board_pk=points_keys.board_day_pk(tenant_id, DAY.isoformat()),
                                     entry_id=f"e{g}.{m}", kind="earn", source_type=kind, source_id=str(DAY),
                                     actor="member", points=10, group_id=gid, program_day=DAY.isoformat(),
                                     created_at=now))
        for edition in ("morning", "evening"):
            repo.add(Delivery.of(tenant_id, gid, DAY, Push.brief(edition), "telegram_bot", Status.sent, now))
        if g % 500 == 499:
            log(f"  seeded {g + 1}/{groups} groups")


class PageQueries:
    """Records the Queries a client sends to a day's earning pages, to replay them as they were sent."""

    def __init__(self, client) -> None:
        self.client, self.sent = client, []

    def _look(self, params, **_) -> None:
        values = (params.get("ExpressionAttributeValues") or {}).values()
        if any(str(v.get("S", "")).endswith("#PAGES") for v in values):
            self.sent.append({k: v for k, v in params.items() if k != "ReturnConsumedCapacity"})

    def __enter__(self) -> PageQueries:
        self.client.meta.events.register("provide-client-params.dynamodb.Query", self._look)
        return self

    def __exit__(self, *exc) -> None:
        self.client.meta.events.unregister("provide-client-params.dynamodb.Query", self._look)


def raw_floor(client, tenant_id: str, groups: int, puts: int, put_bytes: float, tag: str,
              board: list[dict]) -> float:
    """Seconds to Query every item the rollup reads (the day's pages with the rollup's own Queries) and
    BatchWriteItem as many items as it puts."""
    from qunyun.adapters.delivery_keys import DAY_SHARDS, day_pk

    def query(table: str, key: str, value: str, index: str | None = None) -> None:
        args = {"TableName": f"{STACK}-{table}", "KeyConditionExpression": "#k = :v",
                "ExpressionAttributeNames": {"#k": key}, "ExpressionAttributeValues": {":v": {"S": value}}}
        if index:
            args["IndexName"] = index
        while True:
            page = client.query(**args)
            if "LastEvaluatedKey" not in page:
                return
            args["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    start = time.perf_counter()
    for params in board:
        client.query(**params)
    for n in range(DAY_SHARDS):
        query("deliveries", "pk", day_pk(tenant_id, DAY, n))
    for g in range(groups):
        query("community", "pk", f"{tenant_id}#ROSTER#g{g:05d}")
        query("community", "pk", f"{tenant_id}#ACTIVITY#g{g:05d}")
    pad = "x" * max(int(put_bytes) - 40, 1)
    for i in range(0, puts, 25):
        items = [{"PutRequest": {"Item": {"pk": {"S": f"raw#{tag}#{j}"}, "sk": {"S": "raw"}, "data": {"S": pad}}}}
                 for j in range(i, min(i + 25, puts))]
        request = {f"{STACK}-metrics": items}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
    return time.perf_counter() - start


def window_read(store, tenant_id: str, probe) -> dict:
    """What a 90-day window of the tenant scope costs to read: the closed day's tenant row put under the 89 days
    before it too (as 90 closings would), then `metrics_report` over the 90 days, timed and metered."""
    from qunyun.domain.metrics import DayFigures
    from qunyun.services.metrics import metrics_report

    row = store.scope_days(tenant_id, "tenant", DAY, DAY)[DAY]
    for n in range(1, 90):
        store.put_day(tenant_id, DAY - timedelta(days=n), [], {"tenant": DayFigures.of(row.stored())},
                      datetime.now(UTC))
    store.set_closed(tenant_id, DAY, datetime.now(UTC))
    probe.reset()
    start = time.perf_counter()
    report_ = metrics_report(store, tenant_id, "tenant", DAY - timedelta(days=89), DAY)
    seconds = time.perf_counter() - start
    assert len(report_["days"]) == 90 and report_["total"]["members"] == row.members
    return {"seconds": round(seconds, 4), "read_units": round(probe.read, 2), "calls": dict(probe.calls)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=scaled(10_000), help="groups of the tenant's day")
    parser.add_argument("--members", type=int, default=200, help="members per group")
    parser.add_argument("--runs", type=int, default=2, help="closings of the day measured, between floors")
    args = parser.parse_args()
    began = time.perf_counter()

    from qunyun_ops.local.dynamodb import DynamoDBLocal, free_port

    port = free_port()
    local_env(port)

    from qunyun.adapters import metrics_sources
    from qunyun.adapters.activity import ActivityStore
    from qunyun.adapters.community_tables import ActivityPageItem, RosterItem
    from qunyun.adapters.deliveries_tables import CounterItem, DayItem, OutcomePageItem
    from qunyun.adapters.groups import GroupRepository
    from qunyun.adapters.metrics_store import MetricsStore
    from qunyun.adapters.metrics_tables import ClosedItem, GroupDayItem, ScopeDayItem
    from qunyun.adapters.points_tables import EarningPageItem, EntryItem
    from qunyun.adapters.secrets import secret_store
    from qunyun.adapters.tables import GroupItem, TenantItem
    from qunyun.adapters.tenants import TenantRepository
    from qunyun.services.groups import import_groups
    from qunyun.services.metrics_rollup import RollupDeps, close_day
    from qunyun.services.tenants import create_tenant
    from qunyun_ops.local.stack import ddb_client
    from qunyun_ops.local.tables import create_tables
    from qunyun_ops.local.template import Template
    from qunyun_ops.paths import TEMPLATE

    with DynamoDBLocal(port, log=log) as server:
        client = ddb_client(server.endpoint)
        create_tables(client, Template.read(TEMPLATE), STACK, streams=False)
        tenants, groups = TenantRepository(), GroupRepository()
        tenant_id = "bench"
        create_tenant(tenant_id, "Bench", TZ, tenants=tenants, secrets=secret_store())
        log(f"seeding {args.groups} groups of {args.members} members ...")
        rows = ["group_id,name,kind,channel,webhook_url,secret,owner,chat_id,timezone,morning,evening,tags,store,"
                "sales_rep,ends_at"]
        rows += [f"g{g:05d},群{g},traffic,telegram_bot,,1:T,,-{100 + g},,,,,s{g % 20},r{g % 50},"
                 for g in range(args.groups)]
        import_groups(tenant_id, "\n".join(rows), tenants=tenants, groups=groups, secrets=secret_store())
        with paging(client) as pager:  # the day's earnings paged as PageEarnings pages them, untimed
            seed(tenant_id, args.groups, args.members)

        store = MetricsStore()
        deps = RollupDeps(tenants=tenants, groups=groups, roster=metrics_sources.RosterReads(),
                          activity=ActivityStore(), sources=metrics_sources, statistics=lambda *_: None, store=store)
        tenant = tenants.get(tenant_id)
        clients = [pynamodb_client(m) for m in (RosterItem, ActivityPageItem, EntryItem, DayItem, OutcomePageItem,
                                                CounterItem, GroupItem, TenantItem, GroupDayItem, ScopeDayItem,
                                                ClosedItem, EarningPageItem)]
        probe = Probe().attach_all(clients)
        with PageQueries(clients[-1]) as board:  # warm-up: the emulator's JIT, the pools, every path
            close_day(tenant, DAY, deps, datetime.now(UTC))
        written = sum(1 for _ in GroupDayItem.query(f"{tenant_id}#GD#{DAY.isoformat()}"))
        puts = written + 1 + min(args.groups, 20) + min(args.groups, 50) + 1  # groups, tenant, stores, reps, kind
        put_bytes = len(json.dumps(next(iter(GroupDayItem.query(f"{tenant_id}#GD#{DAY.isoformat()}"))).figures))
        assert written == args.groups, written
        probe.reset()

        def path() -> float:
            log(f"close_day: {args.groups} groups ...")
            start = time.perf_counter()
            close_day(tenant, DAY, deps, datetime.now(UTC))
            return time.perf_counter() - start

        floors, paths = interleaved(lambda k: raw_floor(client, tenant_id, args.groups, puts, put_bytes + 200,
                                                        f"f{k}", board.sent), [path for _ in range(args.runs)])
        member_count = args.groups * args.members
        reads = probe.read / args.runs / member_count
        out = {"benchmark": "metrics", "groups": args.groups, "members_per_group": args.members,
               "rollup_seconds": [round(p, 3) for p in paths], "floor_seconds": [round(f, 3) for f in floors],
               "rows_put_per_run": puts, "read_units_per_member": round(reads, 5),
               "write_units_per_group": round(probe.write / args.runs / args.groups, 4),
               "dynamodb_calls": dict(sorted(probe.calls.items())),
               "dynamodb_calls_by_table": dict(sorted(probe.by_table.items())),
               "page_queries_per_run": len(board.sent), "seed_paged": pager.totals,
               "ratio_rollup_to_raw_seconds": None}
        out["window_90_days"] = window_read(store, tenant_id, probe)
        probe.detach_all()
    ratio = ratios(floors, paths)
    out["ratio_rollup_to_raw_seconds"] = {"median": round(ratio.median, 3), "samples": ratio.samples}
    out["total_seconds"] = round(time.perf_counter() - began, 1)
    checks = [Check.of_ratio("metrics", "seconds to close a day of the groups", spread(paths).median, "s",
                             spread(floors).median, ratio, Target(at_most=1.5)),
              Check.of_figure("metrics", "read units per member closed", reads, "RCU", Target(at_most=0.05))]
    report(out, checks)


if __name__ == "__main__":
    main()
