"""Per-store and per-rep figures count each member where the join link that brought them says (API.md §9, the
join-links issue): a member brought by another store's or rep's link counts there, everyone else for the group's
own store and rep; the tenant's and the group's own figures stay whole. On DynamoDB Local, closed by
RollupMetrics' `close_day` and read through `metrics_report`."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import rollup_metrics
from metrics_support import HEADER
from points_support import OnlyTenants
from qunyun.adapters.activity import ActivityStore
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.metrics_store import MetricsStore
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.roster import RosterStore
from qunyun.adapters.secrets import secret_store
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.activity import Page, Sent
from qunyun.domain.events import PointsEvent
from qunyun.domain.roster import RosterChange
from qunyun.services.groups import import_groups
from qunyun.services.metrics import metrics_report
from qunyun.services.metrics_rollup import close_day
from qunyun.services.points import apply_event
from qunyun.services.tenants import create_tenant
from stream_support import deliver_streams

DAY = date(2026, 11, 20)
NOON = datetime.combine(DAY, time(4), UTC)  # 12:00 in Shanghai
# member → what the join link that brought them was for (None: no link, or a link of the group's own)
MEMBERS = {"telegram:1": None, "telegram:2": None, "telegram:3": "campaign:双十二", "telegram:4": "store:s2",
           "telegram:5": "store:s2", "telegram:6": "rep:r9", "telegram:7": "member:telegram:1"}
SPEAKERS = ["telegram:1", "telegram:4", "telegram:6"]
CHECKERS = ["telegram:2", "telegram:5"]


def test_members_count_for_the_store_and_rep_of_the_link_that_brought_them(ddb):
    # GIVEN a group of store s1 and rep r1 whose members came by no link, the group's campaign, store s2's and
    # rep r9's links and a member's personal link; some spoke and some checked in on the day
    tid = "t-" + uuid.uuid4().hex[:12]
    create_tenant(tid, "Tea", "Asia/Shanghai", tenants=TenantRepository(), secrets=secret_store())
    import_groups(tid, "\n".join([HEADER, "g1,茶友群,traffic,telegram_bot,,123:TOKEN,,-100,,,,,s1,r1,"]),
                  tenants=TenantRepository(), groups=GroupRepository(), secrets=secret_store())
    for n, (member, link_for) in enumerate(MEMBERS.items()):
        RosterStore().apply(tid, "g1", RosterChange(member, "member", NOON - timedelta(days=3, minutes=n), "link",
                                                    link_id=f"L{n}" if link_for else None, link_for=link_for))
    ActivityStore().write_many([Page(tid, "g1", DAY, [Sent(f"m{i}", m, int(NOON.timestamp()) + i)
                                                      for i, m in enumerate(SPEAKERS)], {})])
    tenant = TenantRepository().get(tid)
    for m in CHECKERS:
        apply_event(tenant, PointsEvent(event_id=f"c.{m}", type="checkin", member_id=m, group_id="g1",
                                        occurred_at=NOON), ledger=PointsLedger(), now=NOON)
    deliver_streams()  # the day's pages, as PageEarnings writes them a batching window later
    # WHEN RollupMetrics closes the day
    close_day(tenant, DAY, replace(rollup_metrics.default_deps(), tenants=OnlyTenants(tid)), datetime.now(UTC))
    MetricsStore().set_closed(tid, DAY, datetime.now(UTC))

    def day(scope: str) -> dict:
        [row] = metrics_report(MetricsStore(), tid, scope, DAY, DAY)["days"]
        return {k: row[k] for k in ("members", "active_members", "messages", "checkins", "groups")}

    # THEN store s2 counts the two its link brought (one spoke, one checked in), rep r9 its one, and store s1 and
    # rep r1 the rest; a campaign's or a member's link changes no store or rep
    assert day("store:s2") == {"members": 2, "active_members": 1, "messages": 1, "checkins": 1, "groups": 0}
    assert day("rep:r9") == {"members": 1, "active_members": 1, "messages": 1, "checkins": 0, "groups": 0}
    assert day("store:s1") == {"members": 5, "active_members": 2, "messages": 2, "checkins": 1, "groups": 1}
    assert day("rep:r1") == {"members": 6, "active_members": 2, "messages": 2, "checkins": 2, "groups": 1}
    # AND the tenant's and the group's own figures are the whole group, counted once
    whole = {"members": 7, "active_members": 3, "messages": 3, "checkins": 2, "groups": 1}
    assert day("tenant") == day("group:g1") == day("kind:traffic") == whole
