"""Events and their reminders: adding, moving and cancelling an event, its plan per group, and SendReminders.

What is guaranteed, and why:

* **Planned once, at add or move time.** Each targeted group's ladder is planned in its own timezone from the
  time of the add or move (`planned_at`): a rung already past then is skipped (`passed`), never sent late.
  Targets are resolved then too: a group imported later joins when the event is added again or moved.
* **Plan skips are on the record.** A rung skipped as `passed`, `quiet_hours` or `after_start` is written as
  a skipped delivery record of that group, rung and local date, so `deliveries list` says why it never came.
  A later re-plan that makes the rung due again on that date removes such a skip first; a rung that was
  delivered keeps its record, so it is not sent twice on one local date.
* **Found through the index.** An event carries its next due rung in the content table's `due` index;
  SendReminders reads what is due up to its scheduled time, queues one push queue message per group (per
  owner and rung for WeCom customer groups) and moves the keys to the next rung, or removes them.
* **Nothing twice.** A run that crashes before moving the keys, or a second run for the same time, queues
  the same messages again; SendPushes delivers each (group, local date, push) at most once. A queued rung that
  no longer applies (the event was moved and the rung's time changed) sends and records nothing; one whose
  event was cancelled is recorded skipped with `event_cancelled`.
* **A cancelled event sends nothing more**; with notify, the next SendReminders run queues one cancellation
  notice per targeted group, through the same path, daily cap and quota.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from qunyun.adapters.events import EventRepository
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.tenants import TenantRepository
from qunyun.channels.wecom_customer_group import MAX_CHATS
from qunyun.domain.deliveries import Delivery, Status
from qunyun.domain.errors import Conflict, NotFound
from qunyun.domain.event_reminders import RECORDED_SKIPS, Event, GroupLadder, StoredEvent, plan_ladders
from qunyun.domain.groups import Channel
from qunyun.domain.push_messages import PushMessage, parse_push
from qunyun.domain.quota import Push
from qunyun.domain.tenants import Tenant
from qunyun.services.delivery_ports import DeliveryLog

CANCELLED = "cancelled"  # the lead of a cancellation notice's push id: reminder.{event}.cancelled
# Skips a re-plan may lift: they said the rung would not come, and now it does.
REPLANNABLE = RECORDED_SKIPS | {"missed", "event_cancelled"}


def _local_day(when: str | datetime, timezone: str) -> date:
    at = datetime.fromisoformat(when) if isinstance(when, str) else when
    return at.astimezone(ZoneInfo(timezone)).date()


def _planned(tenant: Tenant, event: Event, groups: GroupRepository, now: datetime) -> list[GroupLadder]:
    policy = tenant.policy
    return plan_ladders(event, list(groups.list(tenant.tenant_id)), tenant.timezone, policy.reminder_ladder,
                        policy.quiet_hours, now)


def _record_plan(stored: StoredEvent, deliveries: DeliveryLog, now: datetime) -> None:
    """Lifts the skips the new plan overrides, then records the new plan's skips (conditional: a rung
    delivered on that date keeps its record)."""
    for ladder in stored.ladders:
        for r in ladder.rungs:
            push = Push.reminder(stored.event.id, r["lead"])
            if r["due"]:
                day = _local_day(r["due"], ladder.timezone)
                deliveries.forget_skip(stored.tenant_id, ladder.group_id, day, push.push_id, REPLANNABLE)
            elif r["skip"] in RECORDED_SKIPS:
                day = _local_day(r["nominal"], ladder.timezone)
                deliveries.add(Delivery.of(stored.tenant_id, ladder.group_id, day, push, ladder.channel,
                                           Status.skipped, now, reason=r["skip"]))


def _save(stored: StoredEvent, previous: StoredEvent | None, events: EventRepository, now: datetime) -> None:
    if not events.save(stored, now, previous.version if previous else None):
        raise Conflict(f"event {stored.event.id} changed while it was being saved; run the command again.")


def add_events(tenant: Tenant, parsed: list[Event], *, events: EventRepository, groups: GroupRepository,
               deliveries: DeliveryLog, now: datetime) -> list[dict]:
    """Stores checked events, planning each; an id stored before is replaced and planned again from now."""
    out = []
    for event in parsed:
        previous = events.get(tenant.tenant_id, event.id)
        stored = StoredEvent(tenant_id=tenant.tenant_id, event=event, planned_at=now, fired_until=now,
                             version=(previous.version + 1) if previous else 1,
                             ladders=_planned(tenant, event, groups, now))
        _save(stored, previous, events, now)
        _record_plan(stored, deliveries, now)
        out.append({"id": event.id, "status": "replaced" if previous else "added", "groups": len(stored.ladders),
                    "next_due": _iso(stored.next_due(now))})
    return out


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


def require_event(tenant_id: str, event_id: str, events: EventRepository) -> StoredEvent:
    stored = events.get(tenant_id, event_id)
    if stored is None:
        raise NotFound(f"no event {event_id} in tenant {tenant_id}; add it with `qunyun events add`.")
    return stored


def move_event(tenant: Tenant, event_id: str, starts_at: datetime, *, events: EventRepository,
               groups: GroupRepository, deliveries: DeliveryLog, now: datetime) -> dict:
    """Moves the event to `starts_at` and plans it again from now: rungs already past are skipped."""
    previous = require_event(tenant.tenant_id, event_id, events)
    if previous.status != "active":
        raise Conflict(f"event {event_id} is cancelled; add it again to bring it back.")
    event = previous.event.model_copy(update={"starts_at": starts_at})
    stored = previous.model_copy(update={"event": event, "planned_at": now, "fired_until": now,
                                         "version": previous.version + 1,
                                         "ladders": _planned(tenant, event, groups, now)})
    _save(stored, previous, events, now)
    _record_plan(stored, deliveries, now)
    return {"id": event_id, "starts_at": starts_at.isoformat(), "groups": len(stored.ladders),
            "next_due": _iso(stored.next_due(now))}


def cancel_event(tenant: Tenant, event_id: str, notify: bool, *, events: EventRepository, now: datetime) -> dict:
    """Cancels the event: no rung is queued any more. With `notify`, the next SendReminders run queues one
    cancellation notice per targeted group (its due keys point at now until then)."""
    previous = require_event(tenant.tenant_id, event_id, events)
    if previous.status == "cancelled":
        return {"id": event_id, "status": "already_cancelled", "notify": previous.notify_due is not None}
    stored = previous.model_copy(update={"status": "cancelled", "cancelled_at": now, "version": previous.version + 1,
                                         "notify_due": now if notify else None})
    _save(stored, previous, events, now)
    return {"id": event_id, "status": "cancelled", "notify": notify, "groups": len(stored.ladders)}


def event_plan(tenant: Tenant, event_id: str, *, events: EventRepository, deliveries: DeliveryLog) -> dict:
    """The ladder per group: each rung's local time, due or skipped with the reason, and its delivery."""
    stored = require_event(tenant.tenant_id, event_id, events)
    groups = []
    for ladder in stored.ladders:
        zone = ZoneInfo(ladder.timezone)
        rungs = []
        for r in ladder.rungs:
            at = datetime.fromisoformat(r["due"] or r["nominal"]).astimezone(zone)
            record = deliveries.get(stored.tenant_id, ladder.group_id, at.date(),
                                    Push.reminder(stored.event.id, r["lead"]).push_id)
            rungs.append({"rung": r["lead"], "local_time": at.strftime("%Y-%m-%d %H:%M"),
                          "due": r["due"], "skip": r["skip"], "moved_out_of_quiet_hours": r["moved"],
                          "delivery": record.status.value if record else None,
                          "delivery_reason": record.reason if record else None})
        groups.append({"group_id": ladder.group_id, "channel": ladder.channel, "timezone": ladder.timezone,
                       "rungs": rungs})
    event = stored.event
    return {"id": event.id, "title": event.title, "starts_at": event.starts_at.isoformat(), "link": event.link,
            "status": stored.status, "planned_at": stored.planned_at.isoformat(), "groups": groups}


# ---- SendReminders ----------------------------------------------------------------------------------------

def _bodies(stored: StoredEvent, items: list[tuple[GroupLadder, date, dict]]) -> list[PushMessage]:
    """Queue messages: one per group, or per owner (up to one mass-send task) for WeCom customer groups."""
    out, owners = [], defaultdict(list)
    for ladder, day, extra in items:
        base = {"tenant_id": stored.tenant_id, "date": day.isoformat(), "event_id": stored.event.id, **extra}
        if ladder.channel == Channel.wecom_customer_group.value:
            owners[(ladder.owner or "", tuple(sorted(base.items())))].append(ladder.group_id)
        else:
            out.append(parse_push({**base, "group_ids": [ladder.group_id]}))
    for (owner, base), ids in owners.items():
        for i in range(0, len(ids), MAX_CHATS):
            out.append(parse_push({**dict(base), "owner": owner, "group_ids": ids[i:i + MAX_CHATS]}))
    return out


def _fire(stored: StoredEvent, tenant: Tenant, now: datetime, deliveries: DeliveryLog,
          summary: Counter) -> list[PushMessage]:
    """The messages of the rungs due after the event's progress and up to now; rungs older than the tenant's
    grace (SendReminders was down) are recorded skipped as `missed` instead of being sent late."""
    if stored.status == "cancelled":
        if stored.notify_due is None or stored.notified_at is not None:
            return []
        items = [(ladder, _local_day(now, ladder.timezone), {"kind": "event_cancelled"})
                 for ladder in stored.ladders]
        summary["cancellations"] += len(items)
        return _bodies(stored, items)
    grace = timedelta(minutes=tenant.policy.brief_grace_minutes)
    items = []
    for ladder in stored.ladders:
        for r in ladder.rungs:
            if not r["due"]:
                continue
            due = datetime.fromisoformat(r["due"])
            if (stored.fired_until is not None and due <= stored.fired_until) or due > now:
                continue
            day = _local_day(due, ladder.timezone)
            if now - due > grace:
                deliveries.add(Delivery.of(stored.tenant_id, ladder.group_id, day,
                                           Push.reminder(stored.event.id, r["lead"]), ladder.channel,
                                           Status.skipped, now, reason="missed"))
                summary["missed"] += 1
                continue
            items.append((ladder, day, {"kind": "reminder", "lead": r["lead"], "due": r["due"]}))
    summary["rungs"] += len(items)
    return _bodies(stored, items)


def send_reminders(now: datetime, *, events: EventRepository, tenants: TenantRepository,
                   deliveries: DeliveryLog, queue) -> dict:
    """Queues every rung due at or before `now` (the scheduled time), then moves each event's due keys to its
    next rung (or removes them). Returns counts."""
    summary: Counter = Counter()
    cache: dict[str, Tenant | None] = {}
    for stored in list(events.due(now)):
        summary["events"] += 1
        if stored.tenant_id not in cache:
            cache[stored.tenant_id] = tenants.get(stored.tenant_id)
        tenant = cache[stored.tenant_id]
        bodies = _fire(stored, tenant, now, deliveries, summary) if tenant is not None else []
        summary["messages"] += queue.send(bodies) if bodies else 0
        update = {"fired_until": now}
        if stored.status == "cancelled":
            update["notified_at"] = now
        # Same version: a move or cancel that came meanwhile wins, and its plan stands.
        if not events.save(stored.model_copy(update=update), now, stored.version):
            summary["raced"] += 1
    return dict(summary)
