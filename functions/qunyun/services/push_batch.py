"""What one batch of push messages (one invocation, seconds long) keeps: what it read once for all its messages,
its read-ahead of their groups and days, and the outcomes it waits to write."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from qunyun.adapters.deliveries import DeliveryRepository
from qunyun.adapters.delivery_claims import DeliveryClaims
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.tenants import TenantRepository
from qunyun.domain.tenants import Tenant
from qunyun.services.outcome_pages import OutcomePages
from qunyun.services.read_ahead import ReadAhead

T = TypeVar("T")


class Batch:
    """Tenants, briefs, templates and yesterday's boards are read once for a batch's messages of a tenant.
    Nothing is kept past the batch: a brief changed before the next batch is what the next batch sends."""

    def __init__(self, tenants: TenantRepository, groups: GroupRepository, deliveries: DeliveryRepository,
                 claims: DeliveryClaims):
        self.tenants = tenants
        self._memo: dict[tuple, object] = {}
        self.outcomes = OutcomePages(claims)
        self.ahead = ReadAhead(groups, deliveries, self.tenant, self.outcomes)

    def once(self, key: tuple, load: Callable[[], T]) -> T:
        """`load()` the first time `key` is asked for in this batch; what it gave after that."""
        if key not in self._memo:
            self._memo[key] = load()
        return self._memo[key]

    def tenant(self, tenant_id: str) -> Tenant | None:
        return self.once(("tenant", tenant_id), lambda: self.tenants.get(tenant_id))
