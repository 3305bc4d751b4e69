"""`qunyun points migrate`: a tenant written in the old layout (check-in marks, day caps and reward limits as
guard items of their own) keeps every guarantee before the move, after it, and after a second run."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from qunyun.adapters import points_keys as keys
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.points_migrate import migrate_tenant
from qunyun.adapters.points_tables import TABLE
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.events import PointsEvent
from qunyun.domain.mall import RedemptionRequest, Reward
from qunyun.services.adjust import adjust, reconcile_tenant
from qunyun.services.mall import add_rewards, redeem
from qunyun.services.points import apply_event

NOW = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai


def checkin(t, member: str, at: datetime) -> dict:
    ev = PointsEvent(event_id=f"ev-{uuid.uuid4().hex[:10]}", type="checkin", member_id=member, occurred_at=at)
    return apply_event(t, ev, ledger=PointsLedger(), now=at)


def redeem_mug(t, member: str, quantity: int):
    req = RedemptionRequest(request_id=f"rq-{uuid.uuid4().hex[:8]}", member_id=member, reward_id="mug",
                            quantity=quantity)
    return redeem(t, req, ledger=PointsLedger(), now=NOW)


def client():
    return PointsLedger()._connection.client


def raw_items(t, member: str) -> dict[str, dict]:
    resp = client().query(TableName=TABLE, KeyConditionExpression="pk = :pk", ConsistentRead=True,
                          ExpressionAttributeValues={":pk": {"S": keys.member_pk(t.tenant_id, member)}})
    return {i["sk"]["S"]: i for i in resp["Items"]}


def as_old_layout(t, member: str, stale_day: str) -> None:
    """Rewrites the member as the old code left it: its held guards as guard items of their own (`granted`
    on counters, a bare key for marks), no `held` and no `layout` on the member item, which the `members` index
    lists (by its `tenant_id` and `member_id`); and a stale mark."""
    pk, sk = keys.member_key(t.tenant_id, member)
    item = raw_items(t, member)[sk]
    for guard, n in keys.held_read(json.loads(item["held"]["S"])).items():
        raw = {"pk": {"S": pk}, "sk": {"S": keys.guard_sk(guard)}}
        if guard.kind != "checkin":
            raw["granted"] = {"N": str(n)}
        client().put_item(TableName=TABLE, Item=raw)
    client().put_item(TableName=TABLE, Item={"pk": {"S": pk}, "sk": {"S": f"G#checkin#{stale_day}"}})
    client().update_item(TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}},
                         UpdateExpression="REMOVE held, layout SET tenant_id = :t, member_id = :m",
                         ExpressionAttributeValues={":t": {"S": t.tenant_id}, ":m": {"S": member}})


def test_a_tenant_of_the_old_layout_keeps_its_guards_through_the_migration(make_tenant):
    # GIVEN a member who checked in today and redeemed 1 of a reward limited to 2, stored in the old layout
    fx = make_tenant()
    t = TenantRepository().get(fx.tenant_id)
    add_rewards(t, [Reward(id="mug", name="Mug", cost=10, stock=50, limit_per_member=2, limit_period="total")],
                ledger=PointsLedger(), now=NOW)
    adjust(t, "u1", 500, "grant", ledger=PointsLedger(), now=NOW)
    first = checkin(t, "u1", NOW)
    assert first["granted"] > 0 and redeem_mug(t, "u1", 1).status == 201
    as_old_layout(t, "u1", stale_day="2026-01-10")
    guards_before = sorted(sk for sk in raw_items(t, "u1") if sk.startswith("G#"))
    assert guards_before == ["G#cap#2026-03-02#checkin", "G#checkin#2026-01-10", "G#checkin#2026-03-02",
                             "G#limit#mug#total"]
    # WHEN the member checks in again and redeems 2 more before the migration
    # THEN the new code reads the old guard items: once a day, and the limit holds
    assert checkin(t, "u1", NOW + timedelta(minutes=5))["reason"] == "already_checked_in"
    assert redeem_mug(t, "u1", 2).body["error"]["code"] == "limit_exceeded"

    # WHEN the tenant is migrated
    moved = migrate_tenant(t.tenant_id, NOW)
    # THEN the guard items moved into the member (the stale mark dropped) and are gone
    assert (moved.members, moved.guards, moved.dropped, moved.skipped) == (1, 4, 1, 0)
    items = raw_items(t, "u1")
    assert not [sk for sk in items if sk.startswith("G#")]
    member = items[keys.member_key(t.tenant_id, "u1")[1]]
    assert member["layout"]["N"] == "2"
    held = keys.held_read(json.loads(member["held"]["S"]))
    assert {keys.guard_sk(g): n for g, n in held.items()} == {
        "G#checkin#2026-03-02": 0, "G#cap#2026-03-02#checkin": first["granted"], "G#limit#mug#total": 1}
    # AND every guarantee holds on the new layout: once a day, the day cap's count, the limit, the balances
    assert checkin(t, "u1", NOW + timedelta(minutes=10))["reason"] == "already_checked_in"
    assert redeem_mug(t, "u1", 2).body["error"]["code"] == "limit_exceeded"
    assert redeem_mug(t, "u1", 1).status == 201
    assert checkin(t, "u1", NOW + timedelta(days=1))["granted"] > 0
    assert dict(reconcile_tenant(t.tenant_id, ledger=PointsLedger())) == {"u1": []}

    # WHEN the migration runs again
    before = raw_items(t, "u1")
    again = migrate_tenant(t.tenant_id, NOW + timedelta(days=1))
    # THEN it moves and writes nothing
    assert (again.members, again.guards, again.skipped) == (0, 0, 1)
    assert raw_items(t, "u1") == before
