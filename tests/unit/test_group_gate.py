"""The points events gate for ended flash groups: free for events without a group, one read per group and
environment per minute, and the tenant's grace counted from the group's end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from qunyun.domain.errors import Unprocessable
from qunyun.domain.events import PointsEvent
from qunyun.domain.groups import Group
from qunyun.domain.tenants import Tenant, TenantPolicy
from qunyun.services.group_gate import EndedGroups

ENDS = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
TENANT = Tenant(tenant_id="t1", name="Tea", timezone="Asia/Shanghai", secret_ref="ref", created_at=ENDS,
                policy=TenantPolicy(flash_points_grace_days=7))


class CountingGroups:
    def __init__(self):
        self.reads = 0
        self.groups = {g.group_id: g for g in (
            Group(tenant_id="t1", group_id="sale", name="闪购", kind="flash", channel="outbox", ends_at=ENDS,
                  created_at=ENDS, updated_at=ENDS),
            Group(tenant_id="t1", group_id="long", name="长期", kind="welfare", channel="outbox", created_at=ENDS,
                  updated_at=ENDS))}

    def get(self, tenant_id, group_id):
        self.reads += 1
        return self.groups.get(group_id)


def event(group_id: str | None) -> PointsEvent:
    return PointsEvent(event_id="e1", type="checkin", member_id="u1", occurred_at=ENDS, group_id=group_id)


class Ticks:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_events_without_a_group_read_nothing_and_a_group_is_read_once_a_minute():
    # GIVEN a gate with a one-minute cache
    groups, ticks = CountingGroups(), Ticks()
    gate = EndedGroups(groups, ttl=60, monotonic=ticks)
    # WHEN events without a group, then three for the same group within the minute, then one after it arrive
    gate.check(TENANT, event(None), ENDS)
    assert groups.reads == 0
    for _ in range(3):
        gate.check(TENANT, event("sale"), ENDS)
    ticks.now = 61
    gate.check(TENANT, event("sale"), ENDS)
    # THEN the group was read once per minute
    assert groups.reads == 2


def test_a_flash_groups_events_are_accepted_to_the_end_of_the_grace_and_refused_after_it():
    # GIVEN a flash group that ended at ENDS, and a tenant whose grace is 7 days
    gate = EndedGroups(CountingGroups())
    # WHEN an event for it arrives at the last second of the grace, THEN it passes
    gate.check(TENANT, event("sale"), ENDS + timedelta(days=7))
    # WHEN one arrives a second later, THEN it is refused with group_ended
    with pytest.raises(Unprocessable) as raised:
        gate.check(TENANT, event("sale"), ENDS + timedelta(days=7, seconds=1))
    assert (raised.value.status, raised.value.code, raised.value.details["field"]) == (422, "group_ended", "group_id")


def test_other_and_unknown_groups_are_never_refused():
    gate = EndedGroups(CountingGroups())
    gate.check(TENANT, event("long"), ENDS + timedelta(days=365))
    gate.check(TENANT, event("nobody"), ENDS + timedelta(days=365))
