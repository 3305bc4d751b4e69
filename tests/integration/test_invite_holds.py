"""Held invite points on DynamoDB Local (services/invite_holds.py): one reward per invitee whichever way the invite
came, a leave after the release cancels nothing, a leave from another group cancels nothing, and the settle job
racing a newcomer's leave resolves the pending points exactly once, the ledger reconciling after each."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from points_support import OnlyTenants
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.events import PointsEvent
from qunyun.services.adjust import reconcile_member
from qunyun.services.invite_holds import cancel_on_leave, invite_on_join
from qunyun.services.points import apply_event
from stream_support import settle  # the stream delivered first: the due pages list what was written

INVITER = "telegram:1001"


def _tenant(make_tenant):
    return TenantRepository().get(make_tenant().tenant_id)


def _balance(tenant, member: str) -> dict:
    return PointsLedger().member(tenant.tenant_id, member).balance


def test_one_reward_per_invitee_whichever_way_it_came(make_tenant):
    tenant, now = _tenant(make_tenant), datetime.now(UTC)
    # GIVEN an invite sent through the points API for an invitee
    sent = PointsEvent(event_id="api-inv-1", type="invite", member_id="u_api", invitee_id="telegram:7",
                       occurred_at=now)
    assert apply_event(tenant, sent, ledger=PointsLedger(), now=now)["pending"] == 50
    # WHEN the same invitee then joins through a member's link, twice over
    first = invite_on_join(tenant, INVITER, "telegram:7", "tg", now, "lkaaaaaaaa", ledger=PointsLedger(), now=now)
    again = invite_on_join(tenant, INVITER, "telegram:7", "tg", now, "lkaaaaaaaa", ledger=PointsLedger(), now=now)
    # THEN the link's member earns nothing: the invitee's one reward went to the first inviter
    assert (first["reason"], again["status"]) == ("already_invited", "duplicate")
    assert _balance(tenant, INVITER)["pending"] == 0
    # AND a newcomer's own join cannot invite themselves
    assert invite_on_join(tenant, INVITER, INVITER, "tg", now, "lkaaaaaaaa", ledger=PointsLedger(), now=now) is None


def test_a_leave_after_the_release_or_from_another_group_cancels_nothing(make_tenant):
    tenant, joined = _tenant(make_tenant), datetime.now(UTC) - timedelta(minutes=5)
    for n, invitee in enumerate(("telegram:8", "telegram:9")):
        invite_on_join(tenant, INVITER, invitee, "tg", joined, "lkaaaaaaaa", ledger=PointsLedger(),
                       now=joined + timedelta(seconds=n))
    # WHEN one leaves another group the next day, and the hold is over before the other leaves
    assert not cancel_on_leave(tenant, "telegram:8", "other-group", joined + timedelta(days=1), ledger=PointsLedger(),
                               now=joined + timedelta(days=1))
    summary = settle(joined + timedelta(days=3, minutes=1), ledger=PointsLedger(),
                     tenants=OnlyTenants(tenant.tenant_id))
    assert not cancel_on_leave(tenant, "telegram:9", "tg", joined + timedelta(days=4), ledger=PointsLedger(),
                               now=joined + timedelta(days=4))
    # THEN both invites were released and stay so
    assert summary["invites_released"] == 2
    assert {k: _balance(tenant, INVITER)[k] for k in ("available", "pending", "cancelled")} == {
        "available": 100, "pending": 0, "cancelled": 0}
    assert reconcile_member(tenant.tenant_id, INVITER, ledger=PointsLedger()) == []


def test_the_settle_job_racing_a_leave_resolves_the_held_points_once(make_tenant):
    tenant = _tenant(make_tenant)
    winners = Counter()
    start = datetime.now(UTC) - timedelta(hours=1)
    for i in range(8):
        # GIVEN a newcomer's held invite whose hold ends at `due`, and the newcomer leaving just before it
        invitee, joined = f"telegram:50{i}", start + timedelta(minutes=i)
        invite_on_join(tenant, INVITER, invitee, "tg", joined, "lkaaaaaaaa", ledger=PointsLedger(), now=joined)
        due = joined + timedelta(days=3)
        results: dict[str, object] = {}

        def run_settle(at=due + timedelta(seconds=1), results=results) -> None:
            results["settle"] = settle(at, ledger=PointsLedger(), tenants=OnlyTenants(tenant.tenant_id))

        def leave(d=i, who=invitee, at=due - timedelta(seconds=1), results=results) -> None:
            time.sleep(d / 100)
            results["cancel"] = cancel_on_leave(tenant, who, "tg", at, ledger=PointsLedger(), now=at)

        # WHEN the settle run and the leave happen together
        threads = [threading.Thread(target=run_settle), threading.Thread(target=leave)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # THEN exactly one of them resolved the invitee's points
        released, cancelled = results["settle"]["invites_released"], results["cancel"]
        assert released + int(cancelled) == 1, results
        winners["settle" if released else "leave"] += 1
        assert reconcile_member(tenant.tenant_id, INVITER, ledger=PointsLedger()) == []
    balance = _balance(tenant, INVITER)
    assert balance["pending"] == 0
    assert (balance["available"] + balance["cancelled"]) == 8 * 50
    assert balance["cancelled"] == 50 * winners["leave"]


def test_the_hold_is_the_tenants_invite_hold_days(make_tenant):
    from qunyun.services.tenants import change_policy

    # GIVEN a tenant that holds invite points one day
    tenant_id = make_tenant().tenant_id
    change_policy(tenant_id, ["invite_hold_days=1"], tenants=TenantRepository())
    tenant, joined = TenantRepository().get(tenant_id), datetime.now(UTC) - timedelta(minutes=5)
    # WHEN a newcomer joins through a member's link
    answer = invite_on_join(tenant, INVITER, "telegram:77", "tg", joined, "lkaaaaaaaa", ledger=PointsLedger(),
                            now=joined)
    # THEN the points are due a day later, and released by the first settle run after that
    assert answer["releases_at"] == (joined + timedelta(days=1)).isoformat()
    only = OnlyTenants(tenant_id)
    assert settle(joined + timedelta(hours=23), ledger=PointsLedger(), tenants=only)["invites_released"] == 0
    assert settle(joined + timedelta(days=1, minutes=1), ledger=PointsLedger(), tenants=only)["invites_released"] == 1
    assert _balance(tenant, INVITER)["available"] == 50
