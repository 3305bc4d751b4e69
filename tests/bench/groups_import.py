"""Benchmark: importing N groups from CSV (default 10,000) against the raw BatchWriteItem floor.

    .venv/bin/python tests/bench/groups_import.py [--groups N]

Both sides run in this process against the same DynamoDB Local: the import (parse and check every
row, store channel credentials, batch-write the groups and the flash groups' items, register the
timezones) and, as the floor, plain BatchWriteItem calls of 25 of the same items through boto3.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid

from common import STACK, CapacityMeter, local_env, pynamodb_client, report

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=10_000)
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
        create_tables(client, Template.read(TEMPLATE), STACK)
        deps = {"tenants": TenantRepository(), "groups": GroupRepository(), "secrets": secret_store()}
        text = sample_csv(args.groups)

        # Warm-up: the emulator's JIT and the connection pool, so neither side pays for them.
        warm, _ = create_tenant("bench-warm", "warm", None, tenants=deps["tenants"], secrets=deps["secrets"])
        import_groups(warm.tenant_id, sample_csv(500), **deps)

        create_tenant("bench", "Bench", None, tenants=deps["tenants"], secrets=deps["secrets"])
        # Every table the import writes: groups, flash groups' items (content), the timezone registry (tenants).
        clients = list({id(c): c for c in (pynamodb_client(m) for m in (GroupItem, FlashItem, TimezonesItem))
                        }.values())
        meter = CapacityMeter()
        for c in clients:
            meter.attach(c)
        print(f"importing {args.groups} groups ...", file=sys.stderr)
        start = time.perf_counter()
        result = import_groups("bench", text, **deps)
        import_s = time.perf_counter() - start
        for c in clients:
            meter.detach(c)
        assert result.created == args.groups

        # The floor: the same items (groups and flash groups' items), already serialised, written with plain
        # BatchWriteItem.
        groups = query_all(client, TableName=f"{STACK}-groups", KeyConditionExpression="tenant_id = :t",
                           ExpressionAttributeValues={":t": {"S": "bench"}})
        flash = query_all(client, TableName=f"{STACK}-content", KeyConditionExpression="pk = :p",
                          ExpressionAttributeValues={":p": {"S": "bench#FLASH"}})
        assert len(groups) == args.groups
        items = [(f"{STACK}-groups", {**it, "tenant_id": {"S": "bench-raw"}}) for it in groups]
        items += [(f"{STACK}-content", {**it, "pk": {"S": "bench-raw#FLASH"}}) for it in flash]
        raw_meter = CapacityMeter().attach(client)
        print(f"raw BatchWriteItem of {len(items)} items ...", file=sys.stderr)
        raw_s = raw_floor(client, items)
        raw_meter.detach(client)

    report({
        "benchmark": "groups_import",
        "groups": args.groups,
        "import_seconds": round(import_s, 3),
        "import_groups_per_s": round(args.groups / import_s, 1),
        "raw_batch_write_seconds": round(raw_s, 3),
        "raw_items": len(items),
        "raw_items_per_s": round(len(items) / raw_s, 1),
        "ratio_to_raw": round(raw_s / import_s, 3),
        "write_units_per_group": round(meter.write / args.groups, 3),
        "read_units_per_group": round(meter.read / args.groups, 4),
        "raw_write_units_per_group": round(raw_meter.write / args.groups, 3),
        "dynamodb_calls": meter.calls,
    })


if __name__ == "__main__":
    main()
