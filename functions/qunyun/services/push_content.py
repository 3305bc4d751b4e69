"""What a push message sends: the per-kind part of sending (a brief edition, a farewell, one rung of an event's
reminder). The sender plans, claims, delivers and records every kind the same way; the content says what and to
whom."""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol

from qunyun.domain.groups import Group
from qunyun.domain.quota import Push
from qunyun.domain.tenants import Tenant
from qunyun.services.briefs import Rendered
from qunyun.services.send_deps import SendDeps


class Sending(Protocol):
    """What content is rendered for (services/push_job.py `PushJob`): the message's tenant, the groups' local
    date, the time and the dependencies."""

    tenant: Tenant
    day: date
    now: datetime
    deps: SendDeps


class PushContent(Protocol):
    push: Push
    missing: str | None  # why nothing can be sent (e.g. no_brief); None when there is something

    def refuses(self, group: Group) -> str | None:
        """Why this group must not get the push (e.g. it has ended), or None."""

    def render(self, job: Sending, group: Group) -> Rendered:
        """The group's text; raises BriefRenderError."""

    def later(self, group: Group) -> list[Push]:
        """Pushes known to come later the same day that outrank this one (their slots are kept)."""

    def key(self, tenant_id: str, group_id: str, day: date) -> str:
        """The receiver's idempotency key for this push to this group."""

    # Optional: `stale(group)` says why a queued message no longer applies to the group (an event reminder
    # whose event moved): the group is left out without a record, since the push may still come at its new time.
