"""What RollupMetrics reads of a tenant's day besides activity pages: each group's roster (one Query), the
ledger's earnings of the program day (the board index, in slices of its entries' write times: `earning_slices`),
its redemptions (the board index, one Query), the day's delivery records (one Query per day shard) and the WeCom
quota spent by customer groups (their counters, 100 to a BatchGetItem).

Rosters and earnings are read as DynamoDB answers them, only the attributes the figures need turned into values:
made into item models, a day's 200 members a group cost the rollup more time than the reads themselves."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta

from qunyun.adapters import points_keys
from qunyun.adapters.community_tables import RosterItem
from qunyun.adapters.deliveries_tables import CounterItem
from qunyun.adapters.delivery_keys import counter_key
from qunyun.adapters.group_days import GroupDays
from qunyun.adapters.points_tables import EntryItem
from qunyun.adapters.raw_items import query_items, text
from qunyun.adapters.roster import roster_pk
from qunyun.domain.metrics_day import Earning, bounds
from qunyun.domain.roster import RosterEntry

SLICE = 1000  # board entries a Query of the day's earnings returns at most
LATE = timedelta(days=9)  # an event may arrive 7 days late, and a program day spans up to a day of UTC
_FAR = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))
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
    """Every earning entry of the tenant's program day (in `timezone`, the tenant's): member, group, points and the
    event type."""
    items = earning_slices(EntryItem._get_connection(), points_keys.board_day_pk(tenant_id, day.isoformat()),
                           bounds(day, timezone)[0])
    return [Earning(points_keys.split_member_pk(i["pk"]["S"])[1], text(i, "group_id"), int(i["points"]["N"]),
                    text(i, "source_type")) for i in items]


def earning_slices(connection, board_pk: str, start: datetime) -> Iterator[dict]:
    """A day's board partition read in slices of its entries' write times (their sort keys begin with it), SLICE
    entries a Query: a slice that has more left is halved at the rest's middle time, so no Query carries the
    whole day (a tenant's day may hold half a million entries, bunched after the morning brief). The slices are
    disjoint: every entry is read once. The day's entries are written from its start to a few days after it
    (late events); the two outer slices catch any other."""
    spans = [(_FAR[0], start, None), (start, start + LATE, None), (start + LATE, _FAR[1], None)]
    while spans:
        low, high, resume = spans.pop(0)
        condition = EntryItem.sk.between(points_keys.entry_sk(low), _before(high))
        page = connection.query(board_pk, range_key_condition=condition, index_name=EntryItem.board.Meta.index_name,
                                limit=SLICE, exclusive_start_key=resume)
        yield from page.get("Items", [])
        last = page.get("LastEvaluatedKey")
        if not last:
            continue
        reached = datetime.fromisoformat(last["sk"]["S"].split("#")[1])
        middle = reached + (high - reached) / 2
        # The first half goes on from the last entry read; the second begins afresh at the middle.
        halves = [(low, middle, last), (middle, high, None)] if middle - reached > timedelta(microseconds=1) else []
        spans[:0] = halves or [(low, high, last)]


def _before(at: datetime) -> str:
    """The greatest sort key of an entry written before `at` (entry keys are `E#{UTC time}#{id}`, in microseconds)."""
    return points_keys.entry_sk(at - timedelta(microseconds=1)) + "~"


def redemptions_on(tenant_id: str, day: date) -> dict[str, int]:
    """Redemptions placed on the tenant's program day, by member."""
    out: dict[str, int] = defaultdict(int)
    for i in EntryItem.board.query(points_keys.redemptions_day_pk(tenant_id, day.isoformat())):
        out[points_keys.split_member_pk(i.pk)[1]] += 1
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
