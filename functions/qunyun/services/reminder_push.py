"""An event's reminder rung and its cancellation notice as push content (services/push_send.py sends them).

A reminder is a ReminderMessage, a cancellation notice a CancellationMessage (domain/push_messages.py). Both
read the event as stored when they are handled, so a message queued before a move or a cancel cannot send what
no longer applies: a rung whose time changed sends and records nothing (its new time is queued on its own), a
rung of a cancelled event is recorded skipped with `event_cancelled`.
"""

from __future__ import annotations

from datetime import date, datetime

from qunyun.adapters.render import inert, render
from qunyun.domain.briefs import DIALECTS
from qunyun.domain.event_reminders import StoredEvent
from qunyun.domain.groups import Channel, Group
from qunyun.domain.groups import Status as GroupStatus
from qunyun.domain.notices import LABELS, compose_cancellation, compose_reminder
from qunyun.domain.push_messages import CancellationMessage, ReminderMessage
from qunyun.domain.quota import Push
from qunyun.domain.reminders import Rung
from qunyun.domain.tenants import Tenant
from qunyun.services.briefs import Rendered
from qunyun.services.events import CANCELLED
from qunyun.services.push_content import Sending
from qunyun.services.send_deps import SendDeps


class _EventNotice:
    name: str  # the notice template

    def __init__(self, event_id: str, stored: StoredEvent | None, tenant: Tenant, lead: str,
                 due: datetime | None):
        self.event_id, self.stored, self.tenant, self.lead, self.due = event_id, stored, tenant, lead, due

    @property
    def push(self) -> Push:
        return Push.reminder(self.event_id, self.lead)

    def refuses(self, group: Group) -> str | None:
        return None if group.status is GroupStatus.active else "group_ended"

    def later(self, group: Group) -> list[Push]:
        return []

    def key(self, tenant_id: str, group_id: str, day: date) -> str:
        return f"reminder:{day.isoformat()}:{self.push.push_id}:{tenant_id}:{group_id}"

    def stale(self, group: Group) -> str | None:
        return None

    def _context(self, group: Group, zone: str) -> dict:
        raise NotImplementedError

    def render(self, job: Sending, group: Group) -> Rendered:
        event, locale = self.stored.event, self.tenant.policy.locale
        dialect = DIALECTS[group.channel]
        zone = group.effective_timezone(self.tenant.timezone)
        text = render(dialect, self.name, self._context(group, zone), family="notices")
        title = f"{LABELS.get(locale, LABELS['zh-CN'])[self.name]} · {inert(event.title)}"
        return Rendered(group.group_id, group.channel.value, dialect, self.name, job.day.isoformat(), title, text)

    def _shown(self, group: Group) -> dict:
        # A customer group receives its owner's task text, one text for all of the owner's groups.
        name = "" if group.channel is Channel.wecom_customer_group else group.name
        return {"id": group.group_id, "name": name}


class ReminderContent(_EventNotice):
    name = "reminder"

    @property
    def missing(self) -> str | None:
        if self.stored is None:
            return "no_event"
        return "event_cancelled" if self.stored.status == "cancelled" else None

    def stale(self, group: Group) -> str | None:
        """Why this message no longer applies to the group (the event moved and the rung with it), or None."""
        if self.stored is None or self.stored.status == "cancelled":
            return None  # recorded as missing instead
        ladder = self.stored.ladder(group.group_id)
        rung = next((r for r in ladder.rungs if r["lead"] == self.lead), None) if ladder else None
        if rung is None or rung["due"] is None or datetime.fromisoformat(rung["due"]) != self.due:
            return "event_moved"
        return None

    def _context(self, group: Group, zone: str) -> dict:
        event = self.stored.event
        before = None if self.lead == "eve" else Rung.parse(self.lead).before
        return compose_reminder({"id": event.id, "title": event.title, "link": event.link}, self._shown(group),
                                self.lead, before, event.starts_at, zone, self.tenant.policy.locale)


class CancellationContent(_EventNotice):
    name = "cancelled"

    @property
    def missing(self) -> str | None:
        if self.stored is None:
            return "no_event"
        return "event_active" if self.stored.status != "cancelled" else None

    def _context(self, group: Group, zone: str) -> dict:
        event = self.stored.event
        return compose_cancellation({"id": event.id, "title": event.title, "link": event.link}, self._shown(group),
                                    event.starts_at, zone, self.tenant.policy.locale)


def reminder_content(message: ReminderMessage, tenant: Tenant, deps: SendDeps) -> ReminderContent:
    event_id = message.event_id
    return ReminderContent(event_id, deps.events.get(tenant.tenant_id, event_id), tenant, message.lead,
                           message.due)


def cancellation_content(message: CancellationMessage, tenant: Tenant, deps: SendDeps) -> CancellationContent:
    event_id = message.event_id
    return CancellationContent(event_id, deps.events.get(tenant.tenant_id, event_id), tenant, CANCELLED, None)

