"""Check-ins written in a group: each message that says a check-in keyword (tenant policy `checkin_keywords`)
becomes a `checkin` points event of its sender through the ledger (services/points.py), with the same rules, caps
and idempotency as one sent to the points API: its event id is the platform's message id, so a replayed callback
grants once.

The group is answered once a window (tenant policy `checkin_reply_seconds`, windows on a grid from the epoch so
that every batch agrees on them; `checkin_reply=false` for none): each batch with check-ins in a window queues
the window's reply, delayed until the window closes (services/checkin_reply_push.py). The reply's push id names
the window, so the messages of a window's later batches (or of a retried batch) find its delivery recorded and
send nothing: the delivery record decides, and a crash anywhere here at worst queues the reply once more."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from qunyun.domain.checkin_words import checkin_event_id, says_checkin
from qunyun.domain.errors import QunyunError
from qunyun.domain.group_events import Message
from qunyun.domain.tenants import Tenant

if TYPE_CHECKING:
    from qunyun.domain.push_messages import PushMessage
    from qunyun.services.ledger_ports import PointsUnitOfWork

logger = logging.getLogger(__name__)
NICKNAME_MAX = 64  # PointsEvent.nickname
MAX_DELAY = 900  # SQS's longest DelaySeconds
SETTLE = 2  # seconds after a window closes: a check-in of its last moment is recorded by then


@dataclass(frozen=True)
class CheckinDeps:
    tenant: Callable[[str], Tenant | None]
    ledger: PointsUnitOfWork
    # Queues a push message (a check-in reply, a welcome) to be received no sooner than in so many seconds;
    # None: no replies and no welcomes.
    reply: Callable[[PushMessage, int], None] | None = None


@dataclass(frozen=True)
class CheckedIn:
    """A check-in the ledger took (a replay of one too): who, the group's name for them, and their streak."""

    message_id: str
    member_id: str
    name: str | None
    streak: int
    at: datetime


def record_checkins(tenant_id: str, platform: str, chat_id: str, group_id: str, zone: ZoneInfo,
                    messages: list[Message], deps: CheckinDeps, now: datetime) -> list[CheckedIn]:
    """Applies the check-in messages of a chat's batch to the ledger, for the chat's group. A member's check-in
    the ledger refuses (a second one that day, a blocked member, a message over 7 days old) is left out; the
    ledger being busy raises, so that the batch's records come back and are applied then."""
    tenant = deps.tenant(tenant_id)
    if tenant is None:
        return []
    # The ledger's rules load with the first check-in: most batches hold none, and a cold start does without them.
    from qunyun.domain.events import PointsEvent
    from qunyun.services.points import apply_event

    keywords = tenant.policy.checkin_keywords
    out = []
    for m in messages:
        if not says_checkin(m.text, keywords):
            continue
        member_id = m.sender.member_id(platform)
        try:
            event = PointsEvent(event_id=checkin_event_id(platform, chat_id, m.message_id), type="checkin",
                                member_id=member_id, occurred_at=m.occurred_at, group_id=group_id,
                                nickname=(m.sender.name or "")[:NICKNAME_MAX] or None)
        except ValidationError:
            logger.warning("a check-in's member id is not one the ledger takes", extra={"member_id": member_id})
            continue
        try:
            response = apply_event(tenant, event, ledger=deps.ledger, now=now)
        except QunyunError as e:
            if e.code == "contention":
                raise
            logger.info("a check-in was refused", extra={"member_id": member_id, "code": e.code})
            continue
        if "reason" not in response:  # already_checked_in: the day's check-in was another message
            out.append(CheckedIn(m.message_id, member_id, m.sender.name, int(response.get("streak") or 0),
                                 m.occurred_at))
    if out and tenant.policy.checkin_reply and deps.reply is not None:
        _queue_replies(tenant, group_id, zone, out, deps, now)
    return out


def _queue_replies(tenant: Tenant, group_id: str, zone: ZoneInfo, checked: list[CheckedIn], deps: CheckinDeps,
                   now: datetime) -> None:
    from qunyun.domain.push_messages import CheckinReplyMessage

    seconds = tenant.policy.checkin_reply_seconds
    for window in sorted({int(c.at.timestamp()) // seconds * seconds for c in checked}):
        day = datetime.fromtimestamp(window, zone).date()
        delay = min(MAX_DELAY, max(0, int(window + seconds - now.timestamp()) + SETTLE))
        deps.reply(CheckinReplyMessage(tenant_id=tenant.tenant_id, date=day, group_ids=(group_id,), window=window,
                                       seconds=seconds), delay)
