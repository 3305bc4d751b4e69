"""`qunyun points migrate`, its fourth part: the member pages of members made before them.

PageEarnings pages every member made since the member pages came. A member made before is listed by the sparse
`members` index only, which new members are no longer written to; the ledger's `members` reads both until a later
version deletes the index. Paged here in the index's order, a second run writes the same pages under the same keys."""

from __future__ import annotations

from qunyun.adapters.member_pages import MemberPages
from qunyun.adapters.points_tables import MemberItem


def page_old_members(tenant_id: str, store: MemberPages | None = None) -> tuple[int, int]:
    """Pages the members the `members` index lists for the tenant; returns (members, pages)."""
    listed = [item.member_id for item in MemberItem.members.query(tenant_id)]
    return len(listed), (store or MemberPages()).write([(tenant_id, listed)]) if listed else 0
