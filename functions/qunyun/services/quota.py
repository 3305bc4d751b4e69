"""Spending a group's push slots: the quota planner's decision, made atomic and idempotent in DynamoDB."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING

from qunyun.domain.deliveries import Delivery
from qunyun.domain.errors import QunyunError
from qunyun.domain.groups import Group
from qunyun.domain.quota import Allowance, Budget, Decision, Push, Spent, allowance, decide
from qunyun.domain.tenants import Tenant
from qunyun.services.delivery_ports import PushPlanning

if TYPE_CHECKING:
    from qunyun.adapters.group_days import GroupDay

ATTEMPTS = 12


class Contention(QunyunError):
    status, code = 503, "contention"


def budget_of(tenant: Tenant, group: Group) -> Budget:
    return Budget.for_group(group.channel, tenant.policy.daily_push_cap, tenant.policy.quota_period)


def spend(tenant: Tenant, group: Group, push: Push, day: date, later: Sequence[Push] = (), *,
          deliveries: PushPlanning, record: Delivery, claim: tuple[str, datetime] | None = None,
          known: GroupDay | None = None) -> Decision:
    """Decides whether `push` goes to the group on its local `day` and, if it does, spends its slot.

    `later` are the pushes known to come later that day; those that outrank this one keep their slots.
    Spending again for the same push (a retry, a second dispatcher run, a duplicate queue message) spends
    nothing and answers `already`. The push's delivery `record` is written in the same write as the slot,
    claimed for its sender when `claim` (a token and the time) is given. `known` is the group's day as just
    read, used for the first decision. Concurrent callers are serialised by the writes' conditions: each
    attempt that loses reads again and decides again, and one that decides against a push whose quota period
    holds its mass send (taken before it lost the day's last slot) gives that mass send back."""
    budget = budget_of(tenant, group)
    key = budget.period_of(day)
    for attempt in range(ATTEMPTS):
        spent = deliveries.spent(tenant.tenant_id, group.group_id, day, key,
                                 known=known if attempt == 0 else None, push_id=push.push_id)
        decision = decide(push, day, budget, spent, later)
        if not decision.take and spent.period_held:
            # It took the period's mass send, then lost the day's last slot (or stopped before writing it).
            deliveries.give_back_period(tenant.tenant_id, group.group_id, day, push.push_id, key)
        if not decision.take or decision.already:
            return decision
        limits = allowance(push, day, budget, later, spent.pushes)
        if deliveries.spend(tenant.tenant_id, group.group_id, day, push, limits, record, begun=spent.begun,
                            claim=claim, period_held=spent.period_held):
            return decision
        time.sleep(random.uniform(0, 0.005 * 2 ** min(attempt, 5)))
    raise Contention(f"Could not spend a slot of group {group.group_id!r} on {day} after {ATTEMPTS} attempts; "
                     "try again.", group_id=group.group_id)


def spend_together(tenant: Tenant, push: Push, day: date,
                   wanted: Sequence[tuple[Group, Delivery, GroupDay, Sequence[Push]]], *,
                   deliveries: PushPlanning, claim: tuple[str, datetime]) -> list[bool | None]:
    """`spend` for many groups' `push` on their local `day`, each `(group, record, day as just read, its later
    pushes)`, written together when nothing was written to the day yet and the push simply goes; each True is a
    push spent and its record written claimed. The others are left to `spend`: None for a push that does not
    simply go (skipped, spent before, a day begun), decided from the same read; False for one whose write was
    refused because its day or its quota period changed since the read (`spend` reads again, and finds the
    period's mass send if the push took it)."""
    going: list[tuple[int, tuple[Delivery, Allowance, Spent]]] = []
    for i, (group, record, known, later) in enumerate(wanted):
        if known.begun:
            continue
        budget = budget_of(tenant, group)
        key = budget.period_of(day)
        spent = deliveries.spent(tenant.tenant_id, group.group_id, day, key, known=known, push_id=push.push_id)
        decision = decide(push, day, budget, spent, later)
        if decision.take and not decision.already:
            going.append((i, (record, allowance(push, day, budget, later, spent.pushes), spent)))
    done: list[bool | None] = [None] * len(wanted)
    for (i, _), ok in zip(going, deliveries.spend_new_days([p for _, p in going], claim), strict=True):
        done[i] = ok
    return done
