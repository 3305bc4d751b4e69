"""The pages of each tenant's members (points_tables.MemberPageItem): written by PageEarnings from the points table's
stream, read by `qunyun points reconcile` and `points migrate` through the ledger's `members`. A member's item is
made by its first event alone, with no index entry; its line comes a batch later, many to a write unit, instead of a
`members` index entry in the request that made it.

A line is a hint, as a due page's is: a newcomer whose writer died is removed by the next reader of its stage, and
the line its first write paged stays. The reader of the list checks that each member it lists exists."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from qunyun.adapters import points_keys as keys
from qunyun.adapters.earning_pages import lines_once, put_pages
from qunyun.adapters.points_tables import MemberPageItem


def member_line(record: dict) -> tuple[str, str] | None:
    """(its tenant, its member id) for a stream record of a member's item made (an INSERT of `#BALANCE`); None for
    any other record."""
    image = (record.get("dynamodb") or {}).get("NewImage") or {}
    if record.get("eventName") != "INSERT" or image.get("sk", {}).get("S") != keys.BALANCE_SK:
        return None
    return keys.split_member_pk(image["pk"]["S"])


class MemberPages:
    def write(self, lists: Iterable[tuple[str, list[str]]]) -> int:
        """Puts each (tenant, member ids) as pages (earning_pages.put_pages); returns how many."""
        return put_pages(MemberPageItem, ((keys.members_pages_pk(t), "", lines) for t, lines in lists))

    def listed(self, tenant_id: str) -> Iterator[str]:
        """The member ids the tenant's pages list, each once, in the pages' order (some may no longer exist)."""
        return lines_once(MemberPageItem, "members", keys.members_pages_pk(tenant_id))
