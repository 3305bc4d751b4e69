"""Invite points heard from joins: a member who joins through another member's link (`member:ID`) is an `invite`
points event of that member, through the ledger like one sent to the points API, so still one reward per
invitee (reference/ledger.md 22). It is held: pending until the invitee has stayed the tenant's
`invite_hold_days` (default 3), when the settle job releases it (services/settle.py); a newcomer who leaves the
group before then cancels it, so joining and leaving earns nothing.

Release and cancellation both change the inviter's balance, so the member's version serialises them: exactly
one of the two happens (reference/ledger.md 12)."""

from __future__ import annotations

import functools
import hashlib
import logging
import random
import re
import time
from datetime import datetime, timedelta

from pydantic import ValidationError

from qunyun.domain.errors import QunyunError
from qunyun.domain.events import ID, PointsEvent
from qunyun.domain.ledger import Contention, Entry, LotWrite, MemberChange, Plan, Read, RecordWrite, entry_id
from qunyun.domain.tenants import Tenant
from qunyun.services.ledger_ports import PointsUnitOfWork
from qunyun.services.points import apply_event, plan_held_invite

logger = logging.getLogger(__name__)
_ID = re.compile(ID)


def join_event_id(link_id: str, invitee_id: str, joined_at: datetime) -> str:
    """The points event of one join: the same callback heard twice is the same event."""
    readable = f"join.{link_id}.{invitee_id}.{int(joined_at.timestamp())}"
    return readable if _ID.match(readable) else f"join.{hashlib.sha256(readable.encode()).hexdigest()[:40]}"


def invite_on_join(tenant: Tenant, inviter_id: str, invitee_id: str, group_id: str, joined_at: datetime,
                   link_id: str, *, ledger: PointsUnitOfWork, now: datetime) -> dict | None:
    """Grants the inviter's held invite points for a join; None when the ledger refuses it (the inviter
    blocked, a self-invite, a join heard over 7 days late). The ledger being busy raises, to retry the batch."""
    try:
        event = PointsEvent(event_id=join_event_id(link_id, invitee_id, joined_at), type="invite",
                            member_id=inviter_id, invitee_id=invitee_id, occurred_at=joined_at, group_id=group_id)
    except ValidationError:
        logger.info("a join is no invite the ledger takes", extra={"link_id": link_id})
        return None
    planner = functools.partial(plan_held_invite,
                                release_at=joined_at + timedelta(days=tenant.policy.invite_hold_days))
    try:
        return apply_event(tenant, event, ledger=ledger, now=now, planner=planner)
    except QunyunError as e:
        if e.code == "contention":
            raise
        logger.info("an invite on join was refused", extra={"link_id": link_id, "code": e.code})
        return None


def cancel_on_leave(tenant: Tenant, invitee_id: str, group_id: str, left_at: datetime, *,
                    ledger: PointsUnitOfWork, now: datetime) -> bool:
    """Cancels the held invite of a newcomer who left the group it was for before its release; True when it did.
    Nothing else is touched: an invite released already, one sent through the points API, one for another group."""
    t = tenant.tenant_id
    for attempt in range(25):
        invite = ledger.invite(t, invitee_id)
        if invite is None or invite.state != "pending" or invite.lot is None or not invite.inviter_id:
            return False
        ledger.prefetch([Read.member(t, invite.inviter_id), Read.lot(t, invite.inviter_id, invite.lot)])
        change = MemberChange(ledger.member(t, invite.inviter_id))
        lot = ledger.lot(t, invite.inviter_id, invite.lot)
        ledger.forget()
        if (lot is None or lot.state != "pending" or not lot.settle_at or lot.group_id != group_id
                or left_at >= datetime.fromisoformat(lot.settle_at)):
            return False
        plan = Plan(t, changes=[change])
        _cancel(change, lot, invitee_id)
        plan.invite = RecordWrite(invitee_id, {"state": "cancelled"})
        try:
            ledger.commit(plan, now)
            return True
        except Contention:
            time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
    raise QunyunError("Too many concurrent changes to the inviter; the leave is retried.", code="contention",
                      status=409)


def _cancel(change: MemberChange, lot, invitee_id: str) -> None:
    points = lot.remaining
    change.add("pending", -points)
    change.add("cancelled", points)
    change.lots.append(LotWrite.of(lot, add=-points, set={"state": "cancelled"}, clear_due=True))
    change.entries.append(Entry(entry_id("cancel", invitee_id), "cancel", "invite", invitee_id, "system", -points,
                                {"pending": -points, "cancelled": points}, reason="the invitee left the group",
                                group_id=lot.group_id))
