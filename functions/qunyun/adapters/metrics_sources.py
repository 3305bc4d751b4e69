"""What RollupMetrics reads of a tenant's day besides activity pages: each group's roster (one Query), the
ledger's earnings of the program day and its redemptions (the day's pages: adapters/earning_pages.py), the day's
delivery records (one Query per day shard) and the WeCom quota spent by customer groups (their counters, 100 to a
BatchGetItem).

Rosters are read as DynamoDB answers them, only the attributes the figures need turned into values: made into
item models, a day's 200 members a group cost the rollup more time than the reads themselves. Earnings come as the
pages' lines, turned into plain tuples."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date

from qunyun.adapters import points_keys
from qunyun.adapters.community_tables import RosterItem
from qunyun.adapters.deliveries_tables import CounterItem
from qunyun.adapters.delivery_keys import counter_key
from qunyun.adapters.earning_pages import EarningPages
from qunyun.adapters.group_days import GroupDays
from qunyun.adapters.raw_items import query_items
from qunyun.adapters.roster import roster_pk
from qunyun.domain.metrics_day import Earning
from qunyun.domain.roster import RosterEntry

_ROSTER_NEEDS = ("member_id", "status", "joined_at", "joined_how", "left_at", "left_how", "changed_at", "link_for")


class RosterReads:
    """Rosters as the rollup reads them: the entries' membership fields and what a join link credits each member
    to (store, rep), without names or invite links."""

    def entries(self, tenant_id: str, group_id: str) -> list[RosterEntry]:
        when = RosterItem.changed_at.deserialize
        out = []
        for item in query_items(RosterItem._get_connection(), roster_pk(tenant_id, group_id),
                         attributes_to_get=list(_ROSTER_NEEDS)):
            # Every attribute asked for is a string; taken in one pass, as 200 members a group make this a hot loop.
            v = {name: value.get("S") for name, value in item.items()}
            joined, left = v.get("joined_at"), v.get("left_at")
            out.append(RosterEntry(v.get("member_id"), None, v.get("status") or "member",
                                   when(joined) if joined else None, v.get("joined_how"),
                                   when(left) if left else None, v.get("left_how"),
                                   when(v.get("changed_at")), link_for=v.get("link_for")))
        return out


def earnings_on(tenant_id: str, day: date, timezone: str) -> list[Earning]:
    """Every earning entry of the tenant's program day (`timezone` is the tenant's; its entries are listed under
    that day already): member, group, points and the event type, from the day's pages."""
    return [Earning(points_keys.split_member_pk(e.pk)[1], e.group_id, e.points, e.source_type)
            for e in EarningPages().entries(points_keys.board_day_pk(tenant_id, day.isoformat()))]


def redemptions_on(tenant_id: str, day: date) -> dict[str, int]:
    """Redemptions placed on the tenant's program day, by member."""
    out: dict[str, int] = defaultdict(int)
    for e in EarningPages().entries(points_keys.redemptions_day_pk(tenant_id, day.isoformat())):
        out[points_keys.split_member_pk(e.pk)[1]] += 1
    return dict(out)


def pushes_on(tenant_id: str, day: date) -> dict[str, list[tuple[str, str | None]]]:
    """(status, reason) of every delivery record of the local date, by group."""
    out: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
    for record in GroupDays().on_day(tenant_id, day):
        out[record.group_id].append((record.status.value, record.reason))
    return dict(out)


def quota_spent(tenant_id: str, group_ids: Iterable[str], day: date, period_key: str) -> dict[str, int]:
    """The WeCom mass sends each customer group spent in the quota period up to and including `day` (its
    counter holds one token per send, starting with the send's MMDD)."""
    keys = {counter_key(tenant_id, g, period_key): g for g in group_ids}
    out = {g: 0 for g in keys.values()}
    for item in CounterItem.batch_get(list(keys)):
        out[keys[(item.pk, item.sk)]] = sum(1 for t in (item.pushes or ()) if _by(t, day))
    return out


def _by(token: str, day: date) -> bool:
    month, dom = int(token[:2]), int(token[2:4])
    # A week's period may begin in December and end in January: December is then the year before.
    return (month == 12 and day.month == 1) or (month, dom) <= (day.month, day.day)
