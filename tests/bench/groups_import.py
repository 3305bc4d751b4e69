"""Benchmark: importing N groups from CSV (default 10,000) against the raw BatchWriteItem floor.

    .venv/bin/python tests/bench/groups_import.py [--groups N] [--runs R]

Both sides run in this process against the same DynamoDB Local, one client each, interleaved (floor,
import, floor, import, floor): the import into a new tenant (parse and check every row, store channel
credentials, batch-write the groups and the flash groups' items, register the timezones) and, as the
floor, plain BatchWriteItem calls of 25 items of the same shapes (the warm-up import's, copied under keys of
their own) through boto3. Targets: at least 0.5 of the floor; at most 3.5 write units a group (the item, its
slot index entries, a flash group's item and its index entry: 3.333 recorded).
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from dataclasses import asdict

from common import STACK, CapacityMeter, local_env, pynamodb_client, report
from harness import Check, Target, interleaved, ratios, scaled, spread

HEADER = "group_id,name,kind,channel,webhook_url,secret,owner,chat_id,timezone,morning,evening,tags,store,sales_rep,ends_at"  # noqa: E501


def sample_csv(n: int) -> str:
    rows = [HEADER]
    for i in range(n):
        if i % 3 == 0:
            rows.append(f"g{i:06d},客户群 {i},welfare,wecom_customer_group,,,owner{i % 40},wrOgQh{i:06d},,,,"
                        f"vip;parents,store-{i % 100},rep{i % 300},")
        elif i % 3 == 1:
            rows.append(f"g{i:06d},学习群 {i},learning,wecom_robot,https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
                        f"?key={uuid.uuid4()},,,,,07:30,21:00,learning,,,")
        else:
            rows.append(f"g{i:06d},快闪群 {i},flash,outbox,,,,,Asia/Tokyo,,-,flash,,,2026-11-30T22:00:00+08:00")
    return "\n".join(rows) + "\n"


def raw_floor(client, items: list[tuple[str, dict]]) -> float:
    """Plain BatchWriteItem of (table, item) pairs, 25 a request, in order."""
    start = time.perf_counter()
    for i in range(0, len(items), 25):
        request: dict = {}
        for table, it in items[i:i + 25]:
            request.setdefault(table, []).append({"PutRequest": {"Item": it}})
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or None
    return time.perf_counter() - start


def query_all(client, **kw) -> list[dict]:
    items, page = [], {}
    while True:
        resp = client.query(**kw, **page)
        items += resp["Items"]
        if "LastEvaluatedKey" not in resp:
            return items
        page = {"ExclusiveStartKey": resp["LastEvaluatedKey"]}


def floor_items(client, tenant_id: str, groups: int, flash: int, sample: int) -> list[tuple[str, dict]]:
    """The warm-up import's items (groups, flash groups' items), copied under keys of their own until there are
    as many as the measured import writes: the same shapes and sizes, already serialised."""
    rows = query_all(client, TableName=f"{STACK}-groups", KeyConditionExpression="tenant_id = :t",
                     ExpressionAttributeValues={":t": {"S": tenant_id}})
    ends = query_all(client, TableName=f"{STACK}-content", KeyConditionExpression="pk = :p",
                     ExpressionAttributeValues={":p": {"S": f"{tenant_id}#FLASH"}})
    copies = -(-groups // len(rows))
    items = [(f"{STACK}-groups", {**it, "tenant_id": {"S": f"raw{sample}-{k}"}})
             for k in range(copies) for it in rows][:groups]
    items += [(f"{STACK}-content", {**it, "pk": {"S": f"raw{sample}-{k}#FLASH"}})
              for k in range(copies) for it in ends][:flash]
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=scaled(10_000))
    parser.add_argument("--runs", type=int, default=2, help="measured imports, each between two floor samples")
    args = parser.parse_args()

    from qunyun_ops.local.dynamodb import DynamoDBLocal, free_port

    port = free_port()
    local_env(port)
    from qunyun.adapters.groups import GroupRepository
    from qunyun.adapters.secrets import secret_store
    from qunyun.adapters.tables import FlashItem, GroupItem, TimezonesItem
    from qunyun.adapters.tenants import TenantRepository
    from qunyun.services.groups import import_groups
    from qunyun.services.tenants import create_tenant
    from qunyun_ops.local.stack import ddb_client
    from qunyun_ops.local.tables import create_tables
    from qunyun_ops.local.template import Template
    from qunyun_ops.paths import TEMPLATE

    with DynamoDBLocal(port, log=lambda m: print(m, file=sys.stderr)) as server:
        client = ddb_client(server.endpoint)
        create_tables(client, Template.read(TEMPLATE), STACK, streams=False)
        deps = {"tenants": TenantRepository(), "groups": GroupRepository(), "secrets": secret_store()}
        text = sample_csv(args.groups)

        # Warm-up: the emulator's JIT and the connection pool, so neither side pays for them; its items are
        # the floor's.
        warm, _ = create_tenant("bench-warm", "warm", None, tenants=deps["tenants"], secrets=deps["secrets"])
        import_groups(warm.tenant_id, sample_csv(max(300, args.groups // 20)), **deps)
        flash = sum(1 for i in range(args.groups) if i % 3 == 2)

        # Every table the import writes: groups, flash groups' items (content), the timezone registry (tenants).
        clients = list({id(c): c for c in (pynamodb_client(m) for m in (GroupItem, FlashItem, TimezonesItem))
                        }.values())
        meter, raw_meter = CapacityMeter(), CapacityMeter().attach(client)

        def floor(sample: int) -> float:
            items = floor_items(client, "bench-warm", args.groups, flash, sample)
            raw_meter.reset()
            print(f"floor {sample}: raw BatchWriteItem of {len(items)} items ...", file=sys.stderr)
            return args.groups / raw_floor(client, items)  # groups' worth of items a second

        def path(run: int):
            def one() -> float:
                tenant = f"bench-{run}"
                create_tenant(tenant, "Bench", None, tenants=deps["tenants"], secrets=deps["secrets"])
                for c in clients:
                    meter.attach(c)
                meter.reset()
                print(f"import {run}: {args.groups} groups ...", file=sys.stderr)
                start = time.perf_counter()
                result = import_groups(tenant, text, **deps)
                seconds = time.perf_counter() - start
                for c in clients:
                    meter.detach(c)
                assert result.created == args.groups
                return args.groups / seconds
            return one

        floors, rates = interleaved(floor, [path(k) for k in range(1, args.runs + 1)])
        raw_write = raw_meter.write

    ratio = ratios(floors, rates)
    write_units = meter.write / args.groups
    checks = [Check.of_ratio("groups_import", "groups imported a second", spread(rates).median, "/s",
                             spread(floors).median, ratio, Target(at_least=0.5)),
              Check.of_figure("groups_import", "write units a group", write_units, "WU", Target(at_most=3.5))]
    report({
        "benchmark": "groups_import",
        "groups": args.groups,
        "import_groups_per_s": [round(r, 1) for r in rates],
        "floor_groups_per_s": [round(f, 1) for f in floors],
        "ratio_to_raw": asdict(ratio),
        "write_units_per_group": round(write_units, 3),
        "read_units_per_group": round(meter.read / args.groups, 4),
        "raw_write_units_per_group": round(raw_write / args.groups, 3),
        "dynamodb_calls_last_import": meter.calls,
    }, checks)


if __name__ == "__main__":
    main()
