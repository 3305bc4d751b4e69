"""A group's reply to the check-ins written in it during one window, as push content (services/push_send.py
sends it). It is queued by ProcessGroupEvents when a window's first check-ins are recorded and delayed until the
window closes; it then reads the window's check-ins from the group's activity pages (the check-ins the ledger
took), so one reply names everyone. Its push id names the window: a second message for the same window finds the
delivery recorded and sends nothing. It spends no slot of the daily cap (domain/quota.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from qunyun.adapters.render import render
from qunyun.domain.briefs import DIALECTS
from qunyun.domain.checkin_words import REPLY_LABELS, compose_checkin_reply
from qunyun.domain.groups import Group
from qunyun.domain.groups import Status as GroupStatus
from qunyun.domain.member_names import shown_name
from qunyun.domain.push_messages import CheckinReplyMessage
from qunyun.domain.quota import Push
from qunyun.domain.tenants import Tenant
from qunyun.services.briefs import Rendered
from qunyun.services.push_content import Sending
from qunyun.services.send_deps import SendDeps

NAME = "checkin_reply"


@dataclass
class CheckinReplyContent:
    message: CheckinReplyMessage
    tenant: Tenant
    deps: SendDeps
    push: Push = field(init=False)
    missing: str | None = None
    _read: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # group id → its check-ins, read once

    def __post_init__(self) -> None:
        self.push = Push.checkin_reply(str(self.message.window))

    def refuses(self, group: Group) -> str | None:
        if group.status is not GroupStatus.active:
            return f"group_{group.status.value}"
        return None if self.checked(group) else "no_checkins"

    def checked(self, group: Group) -> list[tuple[str, int]]:
        """The window's check-ins in the group, in order: (name as shown, streak)."""
        if group.group_id not in self._read:
            self._read[group.group_id] = self._checked(group)
        return self._read[group.group_id]

    def _checked(self, group: Group) -> list[tuple[str, int]]:
        start = datetime.fromtimestamp(self.message.window, UTC)
        end = start + timedelta(seconds=self.message.seconds)
        zone = ZoneInfo(group.effective_timezone(self.tenant.timezone))
        days, names = self.deps.activity.read(self.tenant.tenant_id, group.group_id, start.astimezone(zone).date(),
                                              end.astimezone(zone).date())
        first: dict[str, int] = {}
        for sent in (s for day in days.values() for s in day):
            if sent.checkin and self.message.window <= sent.at < end.timestamp():
                first[sent.member_id] = min(sent.at, first.get(sent.member_id, sent.at))
        out = []
        for member_id in sorted(first, key=lambda m: (first[m], m)):
            streak = self.deps.ledger.member(self.tenant.tenant_id, member_id).streak_days
            out.append((shown_name(names.get(member_id), member_id), int(streak or 0)))
        return out

    def render(self, job: Sending, group: Group) -> Rendered:
        locale = self.tenant.policy.locale
        dialect = DIALECTS[group.channel]
        text = render(dialect, NAME, compose_checkin_reply(self.checked(group), locale), family="notices")
        title = REPLY_LABELS.get(locale, REPLY_LABELS["zh-CN"])["title"]
        return Rendered(group.group_id, group.channel.value, dialect, NAME, str(job.day), title, text)

    def later(self, group: Group) -> list[Push]:
        return []

    def key(self, tenant_id: str, group_id: str, day: date) -> str:
        return f"checkin:{self.message.window}:{tenant_id}:{group_id}"


def checkin_reply_content(message: CheckinReplyMessage, tenant: Tenant, deps: SendDeps) -> CheckinReplyContent:
    return CheckinReplyContent(message, tenant, deps)
