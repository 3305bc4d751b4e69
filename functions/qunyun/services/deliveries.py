"""Delivery records: planning a push (its slot and its record, together) and listing what groups were pushed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING

from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.deliveries import Delivery, Status
from qunyun.domain.errors import NotFound
from qunyun.domain.groups import Group
from qunyun.domain.quota import Push, local_day
from qunyun.domain.tenants import Tenant
from qunyun.services.delivery_ports import DeliveryLog, PushPlanning
from qunyun.services.groups import require_tenant
from qunyun.services.quota import Contention, budget_of, spend, spend_together

if TYPE_CHECKING:
    from qunyun.adapters.group_days import GroupDay


def plan_push(tenant: Tenant, group: Group, push: Push, day: date, later: Sequence[Push] = (), *,
              deliveries: PushPlanning, now: datetime, known: GroupDay | None = None,
              claim: str | None = None) -> tuple[Delivery, bool]:
    """Decides whether the push goes to the group on its local `day` and records it: `planned` with its slot
    spent in the same write, or `skipped` with the reason (daily_cap, quota). The same push again returns the
    record it already has; nothing is spent or written twice. `known` is the group's day as the caller has
    just read it (read here otherwise). With a `claim` token the planned record is written claimed for the
    caller's send. Returns the record and whether this call wrote it `planned` (holding the claim, when one
    was given); a record found, or a skip, comes with False."""
    known = known or deliveries.day(tenant.tenant_id, group.group_id, day)
    found = known.record(push.push_id)
    if found is not None:
        return found, False
    planned = _planned(tenant, group, push, day, now)
    try:
        decision = spend(tenant, group, push, day, later, deliveries=deliveries, record=planned, known=known,
                         claim=(claim, now) if claim is not None else None)
    except Contention:
        # A concurrent caller, told of other later pushes, recorded a skip meanwhile: its record stands.
        found = deliveries.get(tenant.tenant_id, group.group_id, day, push.push_id)
        if found is None:
            raise
        return found, False
    if decision.take and not decision.already:
        # written with the slot (and the claim)
        return (planned.model_copy(update={"attempts": 1}) if claim is not None else planned), True
    # A skip, or a slot a concurrent caller spent (and most likely recorded) first.
    record = planned if decision.take else planned.model_copy(update={"status": Status.skipped,
                                                                      "reason": decision.reason})
    if deliveries.add(record, begun=known.begun):  # as read: `add` tries the other way if it changed since
        return record, False
    return deliveries.get(tenant.tenant_id, group.group_id, day, push.push_id), False


def _planned(tenant: Tenant, group: Group, push: Push, day: date, now: datetime) -> Delivery:
    return Delivery.of(tenant.tenant_id, group.group_id, day, push, group.channel.value, Status.planned, now,
                       quota_period=budget_of(tenant, group).period_of(day))


def plan_together(tenant: Tenant, push: Push, day: date, wanted: Sequence[tuple[Group, GroupDay, Sequence[Push]]],
                  *, deliveries: PushPlanning, now: datetime, claim: str) -> dict[str, Delivery | None]:
    """`plan_push` for many groups without a record of the push, each `(group, its day as just read, its later
    pushes)`, written together where the push simply goes on a day not written to yet (quota.spend_together):
    group id → the record written `planned` and claimed for `claim`, or None when its write was refused (its
    day or quota period changed since the read: plan it alone, reading again). Groups left out are planned
    alone from the day as read (a skip, a day begun)."""
    records = [(group, _planned(tenant, group, push, day, now), known, later) for group, known, later in wanted]
    done = spend_together(tenant, push, day, records, deliveries=deliveries, claim=(claim, now))
    return {group.group_id: record.model_copy(update={"attempts": 1}) if ok else None
            for (group, record, *_), ok in zip(records, done, strict=True) if ok is not None}


def list_deliveries(tenant_id: str, day: date | None = None, group_id: str | None = None, *,
                    tenants: TenantRepository, groups: GroupRepository, deliveries: DeliveryLog,
                    now: datetime) -> tuple[date | None, list[Delivery]]:
    """The tenant's deliveries of a local date (today in the tenant's timezone when none is given), one
    group's only when `group_id` is given; a group without a date lists its latest 100. Returns the date
    listed (None for a group's latest) and the records."""
    tenant = require_tenant(tenant_id, tenants)
    if group_id is not None and groups.get(tenant_id, group_id) is None:
        raise NotFound(f"Tenant {tenant_id!r} has no group {group_id!r}; `qunyun groups list` shows its groups.",
                       code="unknown_group")
    if day is None and group_id is not None:
        return None, list(deliveries.of_group(tenant_id, group_id))
    day = day or local_day(now, tenant.timezone)
    return day, deliveries.on_day(tenant_id, day, group_id)
