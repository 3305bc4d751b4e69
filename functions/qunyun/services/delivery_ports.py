"""What the delivery services need of storage, in domain words (implemented by adapters/deliveries.py
DeliveryRepository). Each method is one change that is all or nothing: the adapter makes it one conditional
write, or, where two items change (a quota period's mass send and the group's day), orders the writes so that a
stop between them never lets a push out twice nor overruns WeCom's quota."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Protocol

from qunyun.domain.deliveries import Delivery, Status
from qunyun.domain.owner_tasks import OwnerTask
from qunyun.domain.quota import Allowance, Push, Spent

if TYPE_CHECKING:
    from qunyun.adapters.group_days import GroupDay


class DeliveryLog(Protocol):
    """Groups' delivery records: read, listed, and recorded when a push spends nothing (a skip)."""

    def day(self, tenant_id: str, group_id: str, day: date) -> GroupDay: ...

    def get(self, tenant_id: str, group_id: str, day: date, push_id: str) -> Delivery | None: ...

    def add(self, record: Delivery, begun: bool | None = None) -> bool: ...

    def forget_skip(self, tenant_id: str, group_id: str, day: date, push_id: str, reasons: Iterable[str]) -> bool: ...

    def on_day(self, tenant_id: str, day: date, group_id: str | None = None) -> list[Delivery]: ...

    def of_group(self, tenant_id: str, group_id: str, limit: int = 100, *, since: date | None = None,
                 until: date | None = None) -> Iterator[Delivery]: ...


class PushPlanning(DeliveryLog, Protocol):
    """The unit of work of planning a push: what a group spent of its day and quota period, and spending a slot
    together with the push's record."""

    def spent(self, tenant_id: str, group_id: str, day: date, period_key: str | None,
              known: GroupDay | None = None, push_id: str | None = None) -> Spent: ...

    def spend(self, tenant_id: str, group_id: str, day: date, push: Push, limits: Allowance, record: Delivery,
              *, begun: bool, claim: tuple[str, datetime] | None = None, period_held: bool = False) -> bool: ...

    def spend_new_days(self, pushes: Sequence[tuple[Delivery, Allowance, Spent]],
                       claim: tuple[str, datetime]) -> list[bool]: ...

    def give_back_period(self, tenant_id: str, group_id: str, day: date, push_id: str, period_key: str) -> None: ...


class OwnerTaskWork(Protocol):
    """The follow-up job's unit of work: the tasks awaiting their owners, each group's record moved forward, and
    the groups settled off their task."""

    def awaiting_owner(self, first_shard: int = 0) -> Iterator[OwnerTask]: ...

    def move(self, record: Delivery, status: Status, now: datetime, *, reason: str | None = None,
             error: str | None = None, message_ids: Iterable[str] = (), attempt: bool = False,
             sent_at: datetime | None = None) -> Delivery | None: ...

    def settle_waiting(self, tenant_id: str, msgid: str, group_ids: Iterable[str]) -> None: ...
