"""What SendPushes sends with: its repositories, channels and clock, and the batch it is part of."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from qunyun.adapters.content import ContentRepository
from qunyun.adapters.deliveries import DeliveryRepository
from qunyun.adapters.delivery_claims import DeliveryClaims
from qunyun.adapters.events import EventRepository
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.secrets import SecretStore
from qunyun.adapters.tenants import TenantRepository
from qunyun.services.push_batch import Batch

if TYPE_CHECKING:
    from qunyun.adapters.activity import ActivityStore
    from qunyun.adapters.guard_rules import GuardRulesStore
    from qunyun.adapters.points_ledger import PointsLedger
    from qunyun.adapters.roster import RosterStore
    from qunyun.adapters.welcomes import WelcomeStore


class OnFirstUse:
    """Stands for a repository made on its first use: the ledger's models load only when a push reads the ledger
    (a brief's leaderboard, a check-in reply's streak), not in every cold start of SendPushes."""

    def __init__(self, make: Callable[[], object]) -> None:
        self._make = make

    @functools.cached_property
    def _made(self) -> object:
        return self._make()

    def __getattr__(self, name: str):
        return getattr(self._made, name)


@dataclass
class SendDeps:
    tenants: TenantRepository
    groups: GroupRepository
    content: ContentRepository
    deliveries: DeliveryRepository
    ledger: PointsLedger  # or an OnFirstUse that makes one
    secrets: SecretStore
    claims: DeliveryClaims
    channel: Callable[[str], object]  # channel name → sender (qunyun.channels.channel)
    customer_groups: Callable[[], object]  # → WecomCustomerGroups
    clock: Callable[[], datetime]
    # Called after every channel call, before its outcome is recorded (tests inject a crash here).
    after_send: Callable[[str, object], None] = field(default=lambda group_id, result: None)
    events: EventRepository = field(default_factory=EventRepository)  # what reminders read of their event
    batch: Batch | None = None  # what one batch of messages keeps (`for_batch`); one message's at least

    # The community table's models load only for the pushes that read it (welcomes, check-in replies): a
    # brief's cold start makes no client for them.
    @functools.cached_property
    def welcomes(self) -> WelcomeStore:
        """The tenant's welcome file."""
        from qunyun.adapters.welcomes import WelcomeStore
        return WelcomeStore()

    @functools.cached_property
    def guard_rules(self) -> GuardRulesStore:
        """The group rules a welcome may quote."""
        from qunyun.adapters.guard_rules import GuardRulesStore
        return GuardRulesStore()

    @functools.cached_property
    def activity(self) -> ActivityStore:
        """Where check-in replies find the check-ins."""
        from qunyun.adapters.activity import ActivityStore
        return ActivityStore()

    @functools.cached_property
    def roster(self) -> RosterStore:
        """Where a welcome finds its window's newcomers."""
        from qunyun.adapters.roster import RosterStore
        return RosterStore()

    def for_batch(self) -> SendDeps:
        """These dependencies with a batch of their own: what one batch of messages reads once, reads ahead
        and waits to write (services/push_batch.py)."""
        return dataclasses.replace(self, batch=Batch(self.tenants, self.groups, self.deliveries, self.claims))
