"""A flash group's farewell as push content (services/flash.py ends the group and queues it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from qunyun.adapters.render import render
from qunyun.domain.briefs import DIALECTS
from qunyun.domain.flash import Terms
from qunyun.domain.groups import Group
from qunyun.domain.groups import Status as GroupStatus
from qunyun.domain.notices import LABELS, compose_farewell
from qunyun.domain.push_messages import FarewellMessage
from qunyun.domain.quota import Push
from qunyun.domain.tenants import Tenant
from qunyun.services.briefs import Rendered
from qunyun.services.push_content import Sending
from qunyun.services.send_deps import SendDeps


@dataclass
class FarewellContent:
    """A flash group's farewell: thanks, after-sales contact and hours, and the invitation to the long-term
    group addressed to its top members (stored on its FlashItem when it ended). It goes to an ended group only."""

    flash: object | None  # FlashItem
    tenant: Tenant
    invite_name: str | None
    push: Push = field(default_factory=Push.farewell)

    @property
    def missing(self) -> str | None:
        return "not_flash" if self.flash is None or self.flash.farewell_date is None else None

    def refuses(self, group: Group) -> str | None:
        return None if group.status is GroupStatus.ended else f"group_{group.status.value}"

    def render(self, job: Sending, group: Group) -> Rendered:
        terms = Terms.model_validate(self.flash.terms or {})
        after_sales, invite = terms.resolved(self.tenant)
        shown = {"name": self.invite_name or invite["group_id"], "link": invite["link"]} if invite else None
        top = [{"rank": m["rank"], "name": m.get("name") or m["member_id"], "points": m["points"]}
               for m in (self.flash.top or [])]
        context = compose_farewell({"id": group.group_id, "name": group.name}, after_sales, shown, top,
                                   self.tenant.policy.locale)
        dialect = DIALECTS[group.channel]
        text = render(dialect, "farewell", context, family="notices")
        title = f"{LABELS.get(self.tenant.policy.locale, LABELS['zh-CN'])['farewell']} · {group.name}"
        return Rendered(group.group_id, group.channel.value, dialect, "farewell", str(job.day), title, text)

    def later(self, group: Group) -> list[Push]:
        return []

    def key(self, tenant_id: str, group_id: str, day: date) -> str:
        return f"farewell:{day.isoformat()}:{tenant_id}:{group_id}"


def farewell_content(message: FarewellMessage, tenant: Tenant, deps: SendDeps) -> FarewellContent:
    (group_id,) = message.group_ids
    item = deps.content.flash(tenant.tenant_id, group_id)
    name = None
    terms = Terms.model_validate(item.terms or {}) if item is not None else None
    if terms is not None and terms.invite is not None:
        invited = deps.groups.get(tenant.tenant_id, terms.invite.group_id)
        name = invited.name if invited else None
    return FarewellContent(item, tenant, name)
