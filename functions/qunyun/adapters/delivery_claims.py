"""Claims on planned pushes: the conditional writes that keep BriefSend from sending one push twice.

A sender claims a `planned` delivery record (a token and the time) before it calls the channel, and ends the
claim in the same conditional write that records the outcome. A claim that is still held long after its
lease can only belong to a sender that stopped between the two: nobody knows whether the group received it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pynamodb.exceptions import UpdateError

from qunyun.adapters.deliveries import awaiting_actions, group_pk, push_sk
from qunyun.adapters.deliveries_tables import DeliveryItem
from qunyun.domain.deliveries import Delivery, Status


@dataclass(frozen=True)
class ClaimState:
    """What a claim attempt found: `claimed` (ours now), `busy` (another sender holds a fresh claim), `stale`
    (a claim held past its lease: that sender stopped mid-send) or `done` (the record moved on)."""

    state: str
    token: str | None = None  # ours when claimed; the stale holder's when stale
    parts_sent: int = 0  # parts an earlier attempt delivered before a transient failure
    status: str = "planned"


def _item(record: Delivery) -> DeliveryItem:
    return DeliveryItem(group_pk(record.tenant_id, record.group_id), push_sk(record.date, record.push_id))


def _update_planned(record: Delivery, actions: list, condition) -> DeliveryItem | None:
    """Applies the actions while the record is still planned and `condition` holds, returning the record as
    written; None when it no longer holds."""
    item = _item(record)
    try:
        item.update(actions=actions, condition=(DeliveryItem.status == Status.planned.value) & condition)
    except UpdateError as err:
        if err.cause_response_code == "ConditionalCheckFailedException":
            return None
        raise
    return item


class DeliveryClaims:
    def __init__(self, lease: timedelta):
        self.lease = lease

    def claim(self, record: Delivery, token: str, now: datetime) -> ClaimState:
        """Claims the record in one conditional write when nobody holds it (the usual case: a push just
        planned, or given back after a transient failure); reads it only when that write is refused, to say why."""
        for _ in range(3):
            taken = self._take(record, token, now, DeliveryItem.claim.does_not_exist())
            if taken.state == "claimed":
                return taken
            try:
                stored = DeliveryItem.get(group_pk(record.tenant_id, record.group_id),
                                          push_sk(record.date, record.push_id), consistent_read=True)
            except DeliveryItem.DoesNotExist:
                return ClaimState("done", status="missing")
            if stored.status != Status.planned.value:
                return ClaimState("done", status=stored.status)
            parts = stored.parts_sent if stored.parts_sent is not None else 0
            if stored.claim:
                if stored.claimed_at and stored.claimed_at + self.lease > now:
                    return ClaimState("busy", stored.claim, parts)
                return ClaimState("stale", stored.claim, parts)
            # given back between our write and our read: try again
        return ClaimState("busy")

    def take_over(self, record: Delivery, stale: ClaimState, token: str, now: datetime) -> ClaimState:
        """Takes a stale claim over (for channels whose receiver drops a repeated idempotency key)."""
        return self._take(record, token, now, DeliveryItem.claim == stale.token)

    def _take(self, record: Delivery, token: str, now: datetime, condition) -> ClaimState:
        taken = _update_planned(record, [DeliveryItem.claim.set(token), DeliveryItem.claimed_at.set(now),
                                         DeliveryItem.attempts.add(1), DeliveryItem.updated_at.set(now)], condition)
        if taken is None:
            return ClaimState("busy")
        # Only a release after a transient failure sets parts_sent; without one no part has reached the group.
        return ClaimState("claimed", token, taken.parts_sent if taken.parts_sent is not None else 0)

    def finish(self, record: Delivery, token: str, status: Status, now: datetime, *, reason: str | None = None,
               error: str | None = None, message_ids: Iterable[str] = ()) -> bool:
        """Records the outcome and ends the claim in one conditional write; False when the claim was not ours.
        A record handed to a WeCom owner (awaiting_owner with the task's msgid) enters the `awaiting_owner`
        index in the same write, so the follow-up job finds every task that was created."""
        actions = [DeliveryItem.status.set(status.value), DeliveryItem.updated_at.set(now),
                   DeliveryItem.claim.remove(), DeliveryItem.claimed_at.remove()]
        actions += [DeliveryItem.reason.set(reason)] if reason is not None else []
        actions += [DeliveryItem.error.set(error)] if error is not None else []
        ids = list(message_ids)
        actions += [DeliveryItem.message_ids.set((DeliveryItem.message_ids | []).append(ids))] if ids else []
        actions += [DeliveryItem.sent_at.set(now)] if status is Status.sent else []
        if status is Status.awaiting_owner:
            actions += awaiting_actions(record, status, ids, now)
        return _update_planned(record, actions, DeliveryItem.claim == token) is not None

    def release(self, record: Delivery, token: str, now: datetime, *, parts_sent: int, error: str) -> bool:
        """Gives the claim back after a transient failure, remembering how many parts already arrived."""
        return _update_planned(record, [DeliveryItem.claim.remove(), DeliveryItem.claimed_at.remove(),
                                         DeliveryItem.parts_sent.set(parts_sent), DeliveryItem.error.set(error),
                                         DeliveryItem.updated_at.set(now)], DeliveryItem.claim == token) is not None
