"""What the sweep reads of each group: its roster and its activity pages of the 30 days (one Query each), taken as
DynamoDB answers them, only the attributes the sweep needs turned into values. Made into item models, a group's
200 roster entries cost the sweep more time than its reads (as for the metrics rollup: adapters/metrics_sources.py).
Keys come with every item: a reader may count what it read by them."""

from __future__ import annotations

from datetime import date

from qunyun.adapters.activity import activity_pk, decode_page
from qunyun.adapters.community_tables import ActivityPageItem, RosterItem
from qunyun.adapters.raw_items import query_items, text
from qunyun.adapters.roster import roster_pk
from qunyun.domain.activity import Sent
from qunyun.domain.roster import RosterEntry

_ROSTER_NEEDS = ["pk", "sk", "member_id", "name", "status", "joined_at", "changed_at"]
_PAGE_NEEDS = ["pk", "sk", "messages"]  # not the names the pages showed: the sweep lists the roster's


class SweepReads:
    def entries(self, tenant_id: str, group_id: str) -> list[RosterEntry]:
        """The group's roster: who is a member, since when, and the name to list them by."""
        when = RosterItem.changed_at.deserialize
        out = []
        for item in query_items(RosterItem._get_connection(), roster_pk(tenant_id, group_id),
                           attributes_to_get=_ROSTER_NEEDS):
            joined, changed = text(item, "joined_at"), text(item, "changed_at")
            out.append(RosterEntry(text(item, "member_id") or item["sk"]["S"], text(item, "name"),
                                   text(item, "status") or "member", when(joined) if joined else None, None, None,
                                   None, when(changed) if changed else None))
        return out

    def read(self, tenant_id: str, group_id: str, first: date, last: date
             ) -> tuple[dict[date, list[Sent]], dict[str, str]]:
        """The pages of days first..last by day (no names: the second value is empty)."""
        days: dict[date, list[Sent]] = {}
        condition = ActivityPageItem.sk.between(first.isoformat(), f"{last.isoformat()}$")
        for item in query_items(ActivityPageItem._get_connection(), activity_pk(tenant_id, group_id),
                           range_key_condition=condition, attributes_to_get=_PAGE_NEEDS):
            day = date.fromisoformat(item["sk"]["S"][:10])
            days.setdefault(day, []).extend(decode_page(item["messages"]["S"]))
        return days, {}
