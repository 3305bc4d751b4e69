"""A group's welcome to the members who joined in one window, as push content (services/push_send.py sends it).

ProcessGroupEvents queues it when a batch records joins, delayed until the window closes; it then reads the
group's roster for the members who joined in the window (and are still there), so a wave of joins is one
welcome naming up to 20 and counting the others. Its push id names the window: the messages of the window's
later batches, or of a retried batch, find its delivery recorded and send nothing. Like a check-in reply it
spends no slot of the daily cap (domain/quota.py). The text is the tenant's welcome file's for the group's kind and
tags (services/welcome_settings.py), or the default of the tenant's locale."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from qunyun.adapters.render import render
from qunyun.domain.briefs import DIALECTS
from qunyun.domain.groups import Channel, Group
from qunyun.domain.groups import Status as GroupStatus
from qunyun.domain.guard_rules import GroupRules
from qunyun.domain.member_names import shown_name
from qunyun.domain.push_messages import WelcomeMessage
from qunyun.domain.quota import Push
from qunyun.domain.tenants import Tenant
from qunyun.domain.welcomes import WelcomeSettings, labels_of, newcomers_line, welcome_context
from qunyun.services.briefs import Rendered
from qunyun.services.push_content import Sending
from qunyun.services.send_deps import SendDeps

NAME = "welcome"


@dataclass
class WelcomeContent:
    message: WelcomeMessage
    tenant: Tenant
    deps: SendDeps
    push: Push = field(init=False)
    missing: str | None = None
    _read: dict[str, list[str]] = field(default_factory=dict)  # group id → its newcomers, read once
    _settings: tuple[WelcomeSettings | None, GroupRules] | None = None  # the tenant's welcome and rules, read once

    def __post_init__(self) -> None:
        self.push = Push.welcome(str(self.message.window))

    def refuses(self, group: Group) -> str | None:
        if group.channel is Channel.wecom_customer_group:  # WeCom's own group welcome template greets there
            return "wecom_customer_group"
        if group.status is not GroupStatus.active:
            return f"group_{group.status.value}"
        return None if self.newcomers(group) else "no_newcomers"  # all who joined in the window have left

    def newcomers(self, group: Group) -> list[str]:
        """The names of the members who joined in the window and are still members, in order of joining."""
        if group.group_id not in self._read:
            self._read[group.group_id] = self._newcomers(group)
        return self._read[group.group_id]

    def _newcomers(self, group: Group) -> list[str]:
        start, end = self.message.window, self.message.window + self.message.seconds
        joined = [e for e in self.deps.roster.entries(self.tenant.tenant_id, group.group_id)
                  if e.status == "member" and e.joined_at is not None and start <= e.joined_at.timestamp() < end]
        joined.sort(key=lambda e: (e.joined_at, e.member_id))
        return [shown_name(e.name, e.member_id) for e in joined]

    def settings(self) -> tuple[WelcomeSettings | None, GroupRules]:
        if self._settings is None:
            found = self.deps.guard_rules.get(self.tenant.tenant_id)
            self._settings = (self.deps.welcomes.get(self.tenant.tenant_id), found[0] if found else GroupRules())
        return self._settings

    def render(self, job: Sending, group: Group) -> Rendered:
        locale = self.tenant.policy.locale
        labels = labels_of(locale)
        welcome, rules = self.settings()
        kind, tags = group.kind.value, tuple(group.tags)
        text = (welcome.file.text_for(kind, tags) if welcome else None) or labels["text"]
        context = welcome_context({"id": group.group_id, "name": group.name, "kind": kind, "tags": list(tags)},
                                  newcomers_line(self.newcomers(group), locale), rules, kind, tags,
                                  self.tenant.policy.checkin_keywords)
        dialect = DIALECTS[group.channel]
        text = render(dialect, NAME, context, override=text, family="notices")
        return Rendered(group.group_id, group.channel.value, dialect, NAME, str(job.day), labels["title"], text)

    def later(self, group: Group) -> list[Push]:
        return []

    def key(self, tenant_id: str, group_id: str, day: date) -> str:
        return f"welcome:{self.message.window}:{tenant_id}:{group_id}"


def welcome_content(message: WelcomeMessage, tenant: Tenant, deps: SendDeps) -> WelcomeContent:
    return WelcomeContent(message, tenant, deps)
