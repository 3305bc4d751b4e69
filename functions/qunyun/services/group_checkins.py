"""Check-ins written in a group: each message that says a check-in keyword (tenant policy `checkin_keywords`)
becomes a `checkin` points event of its sender through the ledger (services/points.py), with the same rules, caps
and idempotency as one sent to the points API: its event id is the platform's message id, so a replayed callback
grants once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from qunyun.domain.checkin_words import checkin_event_id, says_checkin
from qunyun.domain.errors import QunyunError
from qunyun.domain.events import PointsEvent
from qunyun.domain.group_events import Message
from qunyun.domain.tenants import Tenant
from qunyun.services.ledger_ports import PointsUnitOfWork
from qunyun.services.points import apply_event

logger = logging.getLogger(__name__)
NICKNAME_MAX = 64  # PointsEvent.nickname


@dataclass(frozen=True)
class CheckinDeps:
    tenant: Callable[[str], Tenant | None]
    ledger: PointsUnitOfWork


@dataclass(frozen=True)
class CheckedIn:
    """A check-in the ledger took (a replay of one too): who, the group's name for them, and their streak."""

    message_id: str
    member_id: str
    name: str | None
    streak: int


def record_checkins(tenant_id: str, platform: str, chat_id: str, group_id: str, messages: list[Message],
                    deps: CheckinDeps, now: datetime) -> list[CheckedIn]:
    """Applies the check-in messages of a chat's batch to the ledger, for the chat's group. A member's check-in
    the ledger refuses (a second one that day, a blocked member, a message over 7 days old) is left out; the
    ledger being busy raises, so that the batch's records come back and are applied then."""
    tenant = deps.tenant(tenant_id)
    if tenant is None:
        return []
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
            out.append(CheckedIn(m.message_id, member_id, m.sender.name, int(response.get("streak") or 0)))
    return out
