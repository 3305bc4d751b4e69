"""Reading groups' days from the deliveries table: a day's spent slots and its records as they read (a record
still claimed reads as the outcome its sender's page holds for it), several days in one request, and listings."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from qunyun.adapters.deliveries_tables import DayItem, OutcomePageItem
from qunyun.adapters.delivery_keys import DAY_SHARDS, PAGE_SK, counter_key, day_key, day_pk, page_entry, page_pk
from qunyun.adapters.delivery_maps import decode, finished, pending_claim
from qunyun.domain.deliveries import Delivery


@dataclass(frozen=True)
class GroupDay:
    """A group's local day as stored: what it spent and the records of its pushes (raw maps by push id)."""

    tenant_id: str
    group_id: str
    day: date
    begun: bool = False  # the day has an item: something was recorded or spent on it
    spent: int = 0
    pushes: frozenset[str] = frozenset()
    records: dict[str, dict] = field(default_factory=dict)
    # The mass sends held in quota periods read with the day, by period key (none held: an empty set).
    periods: dict[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, tenant_id: str, group_id: str, day: date, item: DayItem | None,
           periods: dict[str, frozenset[str]] | None = None) -> GroupDay:
        if item is None:
            return cls(tenant_id, group_id, day, periods=periods or {})
        return cls(tenant_id, group_id, day, True, int(item.spent or 0), frozenset(item.pushes or ()),
                   dict(item.records.as_dict() if item.records is not None else {}), periods or {})

    def record(self, push_id: str) -> Delivery | None:
        data = self.records.get(push_id)
        return decode(self.tenant_id, self.group_id, self.day, push_id, data) if data is not None else None

    def all(self) -> list[Delivery]:
        return [self.record(p) for p in sorted(self.records)]


class GroupDays:
    """The reads of DeliveryRepository."""

    def day(self, tenant_id: str, group_id: str, day: date, *, as_stored: bool = False) -> GroupDay:
        """The group's day, read consistently: its records as they read (`resolved`), or `as_stored`."""
        try:
            item = DayItem.get(*day_key(tenant_id, day, group_id), consistent_read=True)
        except DayItem.DoesNotExist:
            item = None
        found = GroupDay.of(tenant_id, group_id, day, item)
        return found if as_stored else self.resolved(tenant_id, [found])[0]

    def resolved(self, tenant_id: str, days: list[GroupDay]) -> list[GroupDay]:
        """The days with their records as they read: a record still `planned` and claimed reads as the outcome
        its claim token's page holds for it, if one does (`record_on_pages`), as though `finish` had written it.
        The pages of the claims found are read consistently, 100 to a request (none for days without a claimed
        record)."""
        tokens = sorted({t for d in days for data in d.records.values() if (t := pending_claim(data))})
        pages = {item.pk: item.outcomes.as_dict()
                 for item in OutcomePageItem.batch_get([(page_pk(tenant_id, t), PAGE_SK) for t in tokens],
                                                       consistent_read=True)} if tokens else {}
        out = []
        for d in days:
            records = dict(d.records)
            for push_id, data in d.records.items():
                token = pending_claim(data)
                entries = pages.get(page_pk(tenant_id, token)) if token else None
                fields = entries.get(page_entry(d.group_id, d.day, push_id)) if entries else None
                if fields is not None:
                    records[push_id] = finished(data, fields)
            out.append(dataclasses.replace(d, records=records) if records != d.records else d)
        return out

    def days(self, tenant_id: str, wanted: Iterable[tuple[str, date]],
             periods: dict[tuple[str, date], str] | None = None) -> dict[tuple[str, date], GroupDay]:
        """Several groups' days, `(group_id, day)` each, read consistently 100 keys to a request; with each day
        the mass sends of its quota period when `periods` names one (a WeCom customer group's), read in the same
        requests: what `spent` then reads for it again."""
        wanted = list(dict.fromkeys(wanted))
        periods = periods or {}
        keys = {day_key(tenant_id, d, g): (g, d) for g, d in wanted}
        counters = {(g, d): counter_key(tenant_id, g, k) for (g, d), k in periods.items()}
        found = {(i.pk, i.sk): i for i in DayItem.batch_get(list(dict.fromkeys([*keys, *counters.values()])),
                                                            consistent_read=True)}

        def held(g: str, d: date) -> dict[str, frozenset[str]]:
            if (g, d) not in counters:
                return {}
            counter = found.get(counters[(g, d)])
            return {periods[(g, d)]: frozenset(counter.pushes or ()) if counter is not None else frozenset()}

        read = [GroupDay.of(tenant_id, g, d, found.get(k), held(g, d)) for k, (g, d) in keys.items()]
        return {(r.group_id, r.day): r for r in self.resolved(tenant_id, read)}

    def get(self, tenant_id: str, group_id: str, day: date, push_id: str) -> Delivery | None:
        return self.day(tenant_id, group_id, day).record(push_id)

    # ---- listings -----------------------------------------------------------------------------------------
    def on_day(self, tenant_id: str, day: date, group_id: str | None = None) -> list[Delivery]:
        """The tenant's records of a local date (one group's, when given), by group and push: one paged query
        per shard, or one read for a group."""
        if group_id is not None:
            return self.day(tenant_id, group_id, day).all()
        shards = (DayItem.query(day_pk(tenant_id, day, n)) for n in range(DAY_SHARDS))
        days = sorted((GroupDay.of(tenant_id, i.sk, day, i) for i in itertools.chain(*shards)),
                      key=lambda d: d.group_id)
        return [r for d in self.resolved(tenant_id, days) for r in d.all()]

    def of_group(self, tenant_id: str, group_id: str, limit: int = 100, *, since: date | None = None,
                 until: date | None = None) -> Iterator[Delivery]:
        """One group's records, newest date first, from `until` back to `since` (default: a year ahead, where
        event reminders may already have recorded skips, back to 400 days ago). A group's days are keyed by
        date, so they are read day by day, 100 to a request: the price of a day's pushes costing one write each."""
        today = datetime.now(UTC).date()
        until, since = until or today + timedelta(days=366), since or today - timedelta(days=400)
        dates = [until - timedelta(days=n) for n in range((until - since).days + 1)]
        given = 0
        for start in range(0, len(dates), 100):
            page = dates[start:start + 100]
            found = self.days(tenant_id, [(group_id, d) for d in page])
            for d in page:
                for record in reversed(found[(group_id, d)].all()):
                    yield record
                    given += 1
                    if given >= limit:
                        return
