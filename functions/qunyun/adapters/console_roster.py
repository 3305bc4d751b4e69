"""A group's roster as the console lists it: the entries RosterStore gives, read as DynamoDB answers them.

Made into item models first, a roster of 200 members cost the group page more time than its Query (the model's
datetime attributes parse each value); only the entries' fields are turned into values here."""

from __future__ import annotations

from qunyun.adapters.community_tables import RosterItem
from qunyun.adapters.raw_items import query_items, text
from qunyun.adapters.roster import roster_pk
from qunyun.domain.roster import RosterEntry


class ConsoleRoster:
    def entries(self, tenant_id: str, group_id: str) -> list[RosterEntry]:
        """What `RosterStore.entries` gives, one Query paged."""
        out, when = [], RosterItem.changed_at.deserialize
        for i in query_items(RosterItem._get_connection(), roster_pk(tenant_id, group_id)):
            joined, left, changed = text(i, "joined_at"), text(i, "left_at"), text(i, "changed_at")
            out.append(RosterEntry(text(i, "member_id"), text(i, "name"), text(i, "status") or "member",
                                   when(joined) if joined else None, text(i, "joined_how"),
                                   when(left) if left else None, text(i, "left_how"),
                                   when(changed) if changed else None, text(i, "role"), text(i, "link_id"),
                                   text(i, "link_for")))
        return out
