"""A batch's read-ahead: the groups of its messages and their days, read together instead of message by message.

When the first noted message asks, it and the messages after it, up to READ_AHEAD_GROUPS groups, are read
together (one BatchGetItem per tenant for the groups and one for their days, 100 keys a request); the next
message not read yet reads the next ones. A message takes what was read for it once (`groups_of`, `group_day`);
a second look reads again, so a batch that pushes one group twice sees its own first write.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date

from qunyun.adapters.deliveries import DeliveryRepository, GroupDay
from qunyun.adapters.groups import GroupRepository
from qunyun.domain.groups import Group
from qunyun.domain.push_messages import PushMessage
from qunyun.domain.tenants import Tenant
from qunyun.services.outcome_pages import OutcomePages
from qunyun.services.quota import budget_of

READ_AHEAD_GROUPS = 1000  # groups read ahead at once: a batch of owners' messages may name 100 × 2,000


class ReadAhead:
    def __init__(self, groups: GroupRepository, deliveries: DeliveryRepository,
                 tenant: Callable[[str], Tenant | None], outcomes: OutcomePages):
        self.groups, self.deliveries, self.tenant, self.outcomes = groups, deliveries, tenant, outcomes
        self._noted: list[tuple[str, date, list[str]]] = []
        self._groups: dict[tuple[str, str], tuple[Group, str | None] | None] = {}
        self._days: dict[tuple[str, str, date], GroupDay] = {}

    def note(self, messages: Iterable[PushMessage]) -> None:
        """Notes a batch's messages, in order, to read what they need of their groups ahead."""
        self._noted = [(m.tenant_id, m.date, list(m.group_ids)) for m in messages]

    def _read_from(self, tenant_id: str, day: date, group_ids: list[str]) -> None:
        """Reads ahead from the noted message that asks (and the ones before it, which were handled), when it is
        one of them."""
        ahead = self._noted
        try:
            at = ahead.index((tenant_id, day, group_ids))
        except ValueError:
            return  # not noted, or read already: it reads its own
        taken, n = at, 0
        while taken < len(ahead) and (n == 0 or n + len(ahead[taken][2]) <= READ_AHEAD_GROUPS):
            n += len(ahead[taken][2])
            taken += 1
        wanted: dict[str, set[tuple[str, date]]] = defaultdict(set)
        for t, d, ids in ahead[at:taken]:
            wanted[t].update((g, d) for g in ids)
        del ahead[:taken]
        for t, keys in wanted.items():
            ids = sorted({g for g, _ in keys})
            loaded = self.groups.get_many(t, ids)
            self._groups.update({(t, g): loaded.get(g) for g in ids})
            days = self.deliveries.days(t, sorted(keys), self._quota_periods(t, keys, loaded))
            self._days.update({(t, g, d): found for (g, d), found in days.items()})

    def _quota_periods(self, tenant_id: str, keys: Iterable[tuple[str, date]],
                       loaded: dict[str, tuple[Group, str | None]]) -> dict[tuple[str, date], str]:
        """The quota period of each day read ahead of a group that has one (a WeCom customer group), so its
        mass sends are read with the day instead of in a request of its own when it is planned."""
        tenant = self.tenant(tenant_id)
        if tenant is None:
            return {}
        periods = {(g, d): budget_of(tenant, loaded[g][0]).period_of(d) for g, d in keys if g in loaded}
        return {k: period for k, period in periods.items() if period is not None}

    def groups_of(self, tenant_id: str, day: date, group_ids: list[str]) -> dict[str, tuple[Group, str | None]]:
        """The groups (with why their channel is broken, if it is) of a message, as read ahead or read now."""
        if group_ids and (tenant_id, group_ids[0]) not in self._groups:
            self._read_from(tenant_id, day, group_ids)
        ahead = {g: self._groups.pop((tenant_id, g)) for g in dict.fromkeys(group_ids)
                 if (tenant_id, g) in self._groups}
        rest = [g for g in group_ids if g not in ahead]
        loaded = self.groups.get_many(tenant_id, rest) if rest else {}
        return {g: v for g, v in {**ahead, **loaded}.items() if v is not None}

    def group_day(self, tenant_id: str, group_id: str, day: date) -> GroupDay:
        """The group's day, as read ahead or read now (after writing the outcomes waiting to be written, when one
        of them is the group's: a batch that pushes one group twice sees its own first outcome)."""
        if self.outcomes.waiting_on(tenant_id, group_id, day):
            self.outcomes.finish_pending()
        return self._days.pop((tenant_id, group_id, day), None) or self.deliveries.day(tenant_id, group_id, day)
