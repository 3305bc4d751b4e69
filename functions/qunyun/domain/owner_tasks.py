"""Owner tasks: a WeCom mass-send task waiting for its owner to confirm it, and when to chase or drop it.

One `add_msg_template` task covers one owner's customer groups for one push (reference/channels.md). Until the
owner confirms it in the WeCom client its groups are `awaiting_owner`. The follow-up job reminds the owner
(WeCom allows 3 reminders a task in any 24 hours) and, once the push is stale, cancels the task: a morning
brief confirmed in the evening would only annoy the group.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from qunyun.domain.deliveries import Delivery, Status
from qunyun.domain.tenants import TenantPolicy

REMINDERS_PER_DAY = 3
REMINDER_WINDOW = timedelta(hours=24)
# get_groupmsg_send_result's word for each group → what its delivery record becomes ("unsent" stays waiting).
OUTCOME = {"sent": Status.sent, "failed": Status.failed}


@dataclass(frozen=True)
class OwnerTask:
    """The delivery records still awaiting one task's owner, found through the deliveries table's index."""

    tenant_id: str
    msgid: str
    records: tuple[Delivery, ...]
    since: datetime  # when the task was created (its first record started waiting)


@dataclass(frozen=True)
class TaskLog:
    """What the follow-up job did to a task so far: it is read before each effect and written before it."""

    reminders: tuple[datetime, ...] = ()
    cancel_requested_at: datetime | None = None
    checked_at: datetime | None = None  # the scheduled time of the last run that finished the task
    version: int = 0


def _local(day: date, hhmm: str, timezone: str) -> datetime:
    hour, minute = (int(p) for p in hhmm.split(":"))
    return datetime.combine(day, time(hour, minute), ZoneInfo(timezone))


def stale_at(record: Delivery, timezone: str, since: datetime, policy: TenantPolicy) -> datetime:
    """When an unconfirmed push stops being worth sending: a brief at its edition's stale time on its local date
    (12:00 and 23:30 by default), any other push `owner_task_stale_hours` after its task was created.

    A brief whose task was created after that time (a group whose morning slot is past noon) gets the window
    of other pushes instead of being cancelled at once."""
    window = since + timedelta(hours=policy.owner_task_stale_hours)
    hhmm = {"morning": policy.morning_stale_at, "evening": policy.evening_stale_at}.get(record.edition or "")
    if record.kind != "brief" or hhmm is None:
        return window
    at = _local(record.date, hhmm, timezone)
    return at if at > since else window


def reminder_due(log: TaskLog, since: datetime, now: datetime, every: timedelta) -> bool:
    """Whether the owner should be reminded now: `every` after the task or the last reminder, and fewer than 3
    reminders in the 24 hours before `now`."""
    if log.reminders and max(log.reminders) >= now:
        return False  # this run (or a later one) already reminded
    recent = [r for r in log.reminders if r > now - REMINDER_WINDOW]
    if len(recent) >= REMINDERS_PER_DAY:
        return False
    return now >= max(log.reminders, default=since) + every


def kept_reminders(reminders: Iterable[datetime], now: datetime) -> tuple[datetime, ...]:
    """The reminders that still count against WeCom's limit at `now` (older ones need not be stored)."""
    return tuple(sorted(r for r in reminders if r > now - REMINDER_WINDOW))
