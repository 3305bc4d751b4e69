"""Dispatching briefs: which groups are due at a scheduled time, and one queue message for each.

A run at `now` looks at every 5-minute slot since the last finished run (domain/slots.py), in every timezone
groups live in, through the groups table's slot indexes (no Scan). A slot older than the tenant's grace
period (default 60 minutes) is recorded as skipped with the reason `missed` for each of its groups; a group
whose tenant wrote no brief for its local date and edition is skipped with `no_brief`. Every other group gets
a queue message; WeCom customer groups are gathered into one message per tenant, owner, edition and date
(at most 2,000 groups, the size of one mass-send task).

A slot can hold more groups than one invocation can queue (a million: docs/scale.md), so with a dispatch page
queue the scheduled run only plans: it reads each slot's groups and queues them in pages (domain/dispatch_pages.py),
and each page's invocation (`dispatch_page`) records its skips and queues its pushes, then checkpoints the page.
Without one, the run queues the pushes itself, page after page (a small deployment, the tests).

Running twice for the same time is harmless: skips are conditional writes, and SendPushes plans each push once
(its delivery record is keyed by group, date and push), so a second message for a group sends nothing.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date, datetime, timedelta

from qunyun.adapters.content import ContentRepository
from qunyun.adapters.deliveries import DeliveryRepository
from qunyun.adapters.dispatch_checkpoint import DispatchCheckpoint, PageCheckpoint
from qunyun.adapters.groups import GroupRepository, SlotMember
from qunyun.adapters.push_queue import PushQueue
from qunyun.adapters.tenants import TenantRepository
from qunyun.channels.wecom_customer_group import MAX_CHATS
from qunyun.domain.deliveries import Delivery, Status
from qunyun.domain.dispatch_pages import DispatchPage, PageMember, paginate
from qunyun.domain.groups import Channel
from qunyun.domain.push_messages import BriefMessage
from qunyun.domain.quota import Push
from qunyun.domain.slots import EDITIONS, LocalSlot, floor_instant, instants_to_dispatch, local_slot
from qunyun.domain.tenants import Tenant


class _Run:
    """One run's caches: tenants and brief presence are read once per run, not once per group."""

    def __init__(self, now: datetime, tenants: TenantRepository, content: ContentRepository,
                 deliveries: DeliveryRepository):
        self.now, self.tenants, self.content, self.deliveries = now, tenants, content, deliveries
        self._tenants: dict[str, Tenant | None] = {}
        self._briefs: dict[tuple[str, date, str], bool] = {}
        self.summary: Counter = Counter()

    def tenant(self, tenant_id: str) -> Tenant | None:
        if tenant_id not in self._tenants:
            self._tenants[tenant_id] = self.tenants.get(tenant_id)
        return self._tenants[tenant_id]

    def has_brief(self, tenant_id: str, day: date, edition: str) -> bool:
        key = (tenant_id, day, edition)
        if key not in self._briefs:
            self._briefs[key] = self.content.brief(tenant_id, day, edition) is not None
        return self._briefs[key]

    def skip(self, member: SlotMember, day: date, edition: str, reason: str) -> None:
        record = Delivery.of(member.tenant_id, member.group_id, day, Push.brief(edition), member.channel,
                             Status.skipped, self.now, reason=reason)
        # Conditional: a push that has a record keeps it. The morning brief is most often the first push of a
        # group's day, so its skip is tried as the day's first write (one call, not a refused update and a read).
        self.deliveries.add(record, begun=False if edition == "morning" else None)
        self.summary[reason] += 1


def _messages(run: _Run, slot: LocalSlot, edition: str,
              members: Iterator[SlotMember | PageMember]) -> list[BriefMessage]:
    """The queue messages of one slot and edition, after recording the groups it skips."""
    age = floor_instant(run.now) - slot.instant
    base = {"edition": edition, "date": slot.day, "slot": slot.instant}
    out, owners = [], defaultdict(list)
    for m in members:
        tenant = run.tenant(m.tenant_id)
        if tenant is None:
            continue
        if age > timedelta(minutes=tenant.policy.brief_grace_minutes):
            run.skip(m, slot.day, edition, "missed")
        elif not run.has_brief(m.tenant_id, slot.day, edition):
            run.skip(m, slot.day, edition, "no_brief")
        elif m.channel == Channel.wecom_customer_group.value:
            owners[(m.tenant_id, m.owner or "")].append(m.group_id)
        else:
            out.append(BriefMessage(tenant_id=m.tenant_id, **base, group_ids=(m.group_id,)))
    for (tenant_id, owner), ids in owners.items():
        for i in range(0, len(ids), MAX_CHATS):
            out.append(BriefMessage(tenant_id=tenant_id, **base, owner=owner, group_ids=tuple(ids[i:i + MAX_CHATS])))
    run.summary["groups"] += sum(len(m.group_ids) for m in out)
    return out


def dispatch(now: datetime, *, groups: GroupRepository, tenants: TenantRepository, content: ContentRepository,
             deliveries: DeliveryRepository, queue: PushQueue, checkpoint: DispatchCheckpoint,
             pages: PushQueue | None = None) -> dict:
    """For every slot due at `now` (the scheduled time) or missed since the last finished run: with `pages`,
    queues the slot's groups as dispatch pages; without, sends a queue message for every group and records the
    skips. Then moves the checkpoint to `now`'s slot. Returns counts."""
    run = _Run(now, tenants, content, deliveries)
    instants = instants_to_dispatch(now, checkpoint.get())
    zones = sorted(groups.timezones())
    for instant in instants:
        for zone in zones:
            slot = local_slot(instant, zone)
            for edition in EDITIONS:
                members = groups.in_slot(slot.key(edition))
                if pages is None:
                    run.summary["messages"] += queue.send(_messages(run, slot, edition, members))
                else:
                    planned = paginate(now, instant, zone, edition, (_member(m) for m in members))
                    run.summary["pages"] += pages.send(_counted(planned, run.summary))
    checkpoint.advance(instants[-1])
    return {"slots": len(instants), "timezones": len(zones), **run.summary}


def _member(m: SlotMember) -> PageMember:
    return PageMember(m.tenant_id, m.group_id, m.channel, m.owner, m.chat_id)


def _counted(pages: Iterator[DispatchPage], summary: Counter) -> Iterator[DispatchPage]:
    """The pages as they are sent, counting their groups: a million groups' pages are never all in memory."""
    for page in pages:
        summary["planned"] += len(page.members)
        yield page


def dispatch_page(page: DispatchPage, *, tenants: TenantRepository, content: ContentRepository,
                  deliveries: DeliveryRepository, queue: PushQueue, done: PageCheckpoint) -> dict:
    """Records the page's skips and queues its pushes, then checkpoints the page; a page already checkpointed
    (delivered twice, or planned again by a rerun) queues nothing. Returns counts."""
    if done.done(page.slot_id, page.digest):
        return {"pages_done_before": 1}
    run = _Run(page.now, tenants, content, deliveries)
    slot = local_slot(page.instant, page.timezone)
    run.summary["messages"] += queue.send(_messages(run, slot, page.edition, iter(page.members)))
    # After the pushes are queued: a page that fails in between is queued again whole, which SendPushes,
    # planning each push once, turns into nothing more.
    done.mark(page.slot_id, page.digest, page.now)
    return {"pages": 1, **run.summary}
