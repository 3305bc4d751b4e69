"""Points events for a flash group that has ended: accepted for the tenant's grace (after-sales purchases),
refused after it."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from qunyun.domain.errors import Unprocessable
from qunyun.domain.events import PointsEvent
from qunyun.domain.tenants import Tenant

if TYPE_CHECKING:
    from qunyun.adapters.groups import GroupRepository


class EndedGroups:
    """Checks an event's group, reading it at most once per `ttl` seconds per execution environment (as the
    Verifier does tenants): an event without a group_id costs nothing, one with a group_id one GetItem per group
    and environment every `ttl` seconds. Only a flash group's `ends_at` matters; other or unknown groups pass."""

    CACHED_GROUPS = 4096  # an environment seeing more groups than this starts its cache afresh

    def __init__(self, groups: GroupRepository | None = None, ttl: float = 60.0,
                 monotonic: Callable[[], float] = time.monotonic):
        self.groups, self.ttl, self.monotonic = groups, ttl, monotonic
        self._ends: dict[tuple[str, str], tuple[float, datetime | None]] = {}

    def _ends_at(self, tenant_id: str, group_id: str) -> datetime | None:
        now, key = self.monotonic(), (tenant_id, group_id)
        hit = self._ends.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        # The group model and its table load on the first event that names a group, not on every cold start.
        from qunyun.adapters.groups import GroupRepository
        from qunyun.domain.groups import Kind

        if self.groups is None:
            self.groups = GroupRepository()
        group = self.groups.get(tenant_id, group_id)
        ends_at = group.ends_at if group is not None and group.kind is Kind.flash else None
        if len(self._ends) >= self.CACHED_GROUPS:
            self._ends.clear()
        self._ends[key] = (now, ends_at)
        return ends_at

    def check(self, tenant: Tenant, event: PointsEvent, now: datetime) -> None:
        """Raises 422 `group_ended` when the event's flash group ended more than the grace ago; writes nothing."""
        if not event.group_id:
            return
        ends_at = self._ends_at(tenant.tenant_id, event.group_id)
        if ends_at is None:
            return
        grace = timedelta(days=tenant.policy.flash_points_grace_days)
        if now > ends_at + grace:
            raise Unprocessable(
                f"Group {event.group_id!r} is a flash group that ended at {ends_at.isoformat()}; its points events "
                f"were accepted for {grace.days} day(s) after that and no longer are.",
                code="group_ended", field="group_id")
