"""A group's roster as the console lists it: the entries RosterStore gives, read as DynamoDB answers them.

Made into item models first, a roster of 200 members cost the group page more time than its Query (the model's
datetime attributes parse each value); only the entries' fields are turned into values here."""

from __future__ import annotations

from qunyun.adapters.community_tables import RosterItem
from qunyun.adapters.roster import roster_pk
from qunyun.domain.roster import RosterEntry


def _text(item: dict, name: str) -> str | None:
    value = item.get(name)
    return value["S"] if value is not None and "S" in value else None


class ConsoleRoster:
    def entries(self, tenant_id: str, group_id: str) -> list[RosterEntry]:
        """What `RosterStore.entries` gives, one Query paged."""
        connection, when = RosterItem._get_connection(), RosterItem.changed_at.deserialize
        out, start = [], None
        while True:
            page = connection.query(roster_pk(tenant_id, group_id), exclusive_start_key=start)
            for i in page.get("Items", []):
                joined, left, changed = _text(i, "joined_at"), _text(i, "left_at"), _text(i, "changed_at")
                out.append(RosterEntry(_text(i, "member_id"), _text(i, "name"), _text(i, "status") or "member",
                                       when(joined) if joined else None, _text(i, "joined_how"),
                                       when(left) if left else None, _text(i, "left_how"),
                                       when(changed) if changed else None, _text(i, "role"), _text(i, "link_id"),
                                       _text(i, "link_for")))
            start = page.get("LastEvaluatedKey")
            if not start:
                return out
