"""`qunyun points migrate` on a stack whose points table has no stream yet: the command says so and exits 1
before it moves anything, so a tenant of the old layout is left as it was."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from qunyun.adapters import points_keys as keys
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.tenants import TenantRepository
from qunyun.services.adjust import adjust
from qunyun_ops.local.tables import create_tables
from qunyun_ops.local.template import Template
from support import STACK

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def streamless(ddb):
    """Another stack on the same DynamoDB Local, its tables made without streams; dropped afterwards."""
    stack = f"nostream-{uuid.uuid4().hex[:6]}"
    names = create_tables(ddb, Template.read(ROOT / "template.yaml"), stack, streams=False)
    yield stack
    for name in names:
        ddb.delete_table(TableName=name)


def member_items(ddb, stack: str, tenant_id: str) -> dict[str, dict]:
    resp = ddb.query(TableName=f"{stack}-points", KeyConditionExpression="pk = :pk", ConsistentRead=True,
                     ExpressionAttributeValues={":pk": {"S": keys.member_pk(tenant_id, "u1")}})
    return {i["sk"]["S"]: i for i in resp["Items"]}


def old_layout_copy(ddb, stack: str, tenant_id: str) -> None:
    """Copies the tenant and its member u1 into the stack, the member as the old code left it: a check-in mark
    as a guard item of its own, and no `held` or `layout` on the member item."""
    tenant = ddb.get_item(TableName=f"{STACK}-tenants", Key={"tenant_id": {"S": tenant_id}})["Item"]
    ddb.put_item(TableName=f"{stack}-tenants", Item=tenant)
    for sk, item in member_items(ddb, STACK, tenant_id).items():
        if sk == keys.BALANCE_SK:
            item = {k: v for k, v in item.items() if k not in ("held", "layout")}
        ddb.put_item(TableName=f"{stack}-points", Item=item)
    mark = {"pk": {"S": keys.member_pk(tenant_id, "u1")}, "sk": {"S": f"G#checkin#{datetime.now(UTC).date()}"}}
    ddb.put_item(TableName=f"{stack}-points", Item=mark)


def test_a_points_table_without_a_stream_is_refused_before_anything_moves(ddb, tenant, streamless):
    # GIVEN a member of the old layout, on a stack whose points table has no stream
    t = TenantRepository().get(tenant.tenant_id)
    adjust(t, "u1", 500, "grant", ledger=PointsLedger(), now=datetime.now(UTC))
    old_layout_copy(ddb, streamless, tenant.tenant_id)
    before = member_items(ddb, streamless, tenant.tenant_id)
    assert any(sk.startswith("G#checkin#") for sk in before) and "layout" not in before[keys.BALANCE_SK]
    # WHEN the tenant is migrated there
    ran = subprocess.run([sys.executable, "-m", "qunyun_ops.cli", "points", "migrate", "--tenant", tenant.tenant_id],
                         env={**os.environ, "STACK_NAME": streamless}, cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    # THEN the command says the table has no stream and exits 1, having moved nothing
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "error: the points table has no stream yet" in ran.stderr
    assert member_items(ddb, streamless, tenant.tenant_id) == before
    assert "Migrated" not in ran.stdout
