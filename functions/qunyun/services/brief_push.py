"""A morning or evening brief as push content: the tenant's brief of the date and edition, rendered per group
with the edition's template and yesterday's boards (read once per batch)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from qunyun.domain.briefs import DIALECTS, Brief
from qunyun.domain.groups import Group, Kind
from qunyun.domain.groups import Status as GroupStatus
from qunyun.domain.push_messages import BriefMessage
from qunyun.domain.quota import Push
from qunyun.domain.tenants import Tenant
from qunyun.services.briefs import DayBoards, Rendered, render_brief
from qunyun.services.push_content import Sending
from qunyun.services.send_deps import SendDeps


def delivery_key(tenant_id: str, group_id: str, day: date, edition: str) -> str:
    """The idempotency key a receiver can dedupe on: the same for every attempt of one push."""
    return f"brief:{day.isoformat()}:{edition}:{tenant_id}:{group_id}"


@dataclass
class BriefContent:
    brief: Brief | None
    edition: str
    day: date | None = None
    timezone: str = "UTC"  # the tenant's, for groups without their own

    @property
    def push(self) -> Push:
        return Push.brief(self.edition)

    @property
    def missing(self) -> str | None:
        return "no_brief" if self.brief is None else None

    def refuses(self, group: Group) -> str | None:
        return None if group.status is GroupStatus.active else "group_ended"

    def render(self, job: Sending, group: Group) -> Rendered:
        deps, tenant_id, dialect = job.deps, job.tenant.tenant_id, DIALECTS[group.channel]
        template = deps.batch.once(("templates", tenant_id, self.edition),
                                   lambda: deps.content.templates(tenant_id, self.edition)).get(dialect)
        before = self.brief.date - timedelta(days=1)
        boards = deps.batch.once(("boards", tenant_id, before),
                                 lambda: DayBoards(deps.ledger, tenant_id, before, job.now))
        return render_brief(job.tenant, group, self.brief, ledger=deps.ledger, now=job.now, template=template,
                            boards=boards)

    def later(self, group: Group) -> list[Push]:
        """The evening brief after the morning one, and a flash group's farewell on the day it ends (it outranks
        every brief: a customer group whose quota leaves one push that day keeps it for the farewell)."""
        later = [Push.brief("evening")] if self.edition == "morning" and group.evening else []
        if group.kind is Kind.flash and group.ends_at is not None and self.day is not None:
            zone = ZoneInfo(group.effective_timezone(self.timezone))
            if group.ends_at.astimezone(zone).date() == self.day:
                later.append(Push.farewell())
        return later

    def key(self, tenant_id: str, group_id: str, day: date) -> str:
        return delivery_key(tenant_id, group_id, day, self.edition)


def brief_content(message: BriefMessage, tenant: Tenant, deps: SendDeps) -> BriefContent:
    edition, day = message.edition, message.date
    brief = deps.batch.once(("brief", tenant.tenant_id, day, edition),
                            lambda: deps.content.brief(tenant.tenant_id, day, edition))
    return BriefContent(brief, edition, day=day, timezone=tenant.timezone)
