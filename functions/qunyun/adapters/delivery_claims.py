"""Claims on planned pushes: the conditional writes that keep SendPushes from sending one push twice.

A sender holds a claim on a `planned` delivery record (a token and the time) while it calls the channel: the
claim is written with the record when the push is planned (DeliveryRepository.spend), or taken by `claim` when a
record planned earlier is tried again. The sender ends the claim in the same conditional write that records the
outcome. A claim that is still held long after its lease can only belong to a sender that stopped between the
two: nobody knows whether the group received it.

Outcomes of many records go to DynamoDB together, two ways. `finish_all`: PartiQL statements, 25 to a
BatchExecuteStatement request, each with the condition of the single write and billed as it. `finish_on_page`:
one item (an outcome page of the claim token) for up to 25 outcomes, billed by its size, the records' days left
as they are; a record still claimed with the token reads as its outcome there (DeliveryRepository.resolved), so
the condition is applied when the record is read instead of when the outcome is written.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PutError, UpdateError

from qunyun.adapters.deliveries import DeliveryRepository
from qunyun.adapters.delivery_keys import day_key
from qunyun.adapters.delivery_maps import (
    CLAIM,
    CLAIMED_AT,
    PARTS_SENT,
    STATUS,
    from_micros,
    micros,
    outcome_actions,
    outcome_fields,
    record_field,
)
from qunyun.adapters.delivery_statements import execute_statements, outcome_statement
from qunyun.domain.deliveries import Delivery, Status


@dataclass(frozen=True)
class ClaimState:
    """What a claim attempt found: `claimed` (ours now), `busy` (another sender holds a fresh claim), `stale`
    (a claim held past its lease: that sender stopped mid-send) or `done` (the record moved on)."""

    state: str
    token: str | None = None  # ours when claimed; the stale holder's when stale
    parts_sent: int = 0  # parts an earlier attempt delivered before a transient failure
    status: str = "planned"


@dataclass(frozen=True)
class Outcome:
    """What `finish` records for one claimed record."""

    record: Delivery
    token: str
    status: Status
    now: datetime
    reason: str | None = None
    error: str | None = None
    message_ids: tuple[str, ...] = ()

    def finish(self, claims: DeliveryClaims) -> bool:
        return claims.finish(self.record, self.token, self.status, self.now, reason=self.reason, error=self.error,
                             message_ids=self.message_ids)

    def fields(self) -> dict:
        return outcome_fields(self.status, self.now, reason=self.reason, error=self.error,
                              message_ids=self.message_ids)

    def statement(self) -> dict | None:
        return outcome_statement(self.record, self.token, self.status, self.now, reason=self.reason,
                                 error=self.error, message_ids=self.message_ids)


class DeliveryClaims:
    def __init__(self, lease: timedelta, deliveries: DeliveryRepository | None = None):
        self.lease = lease
        self.deliveries = deliveries or DeliveryRepository()

    def _update_planned(self, record: Delivery, actions: list, condition) -> dict | None:
        """Applies the actions while the record is still planned and `condition` holds; the record's map as
        written, or None when it no longer holds."""
        planned = record_field(record.push_id, "status") == Status.planned.value
        return self.deliveries.update(record, actions, planned & condition)

    def claim(self, record: Delivery, token: str, now: datetime) -> ClaimState:
        """Claims the record in one conditional write when nobody holds it (a push given back after a transient
        failure or a failure before its send, or recorded without a claim by a caller that found its slot already
        spent); reads it only when that write is refused, to say why."""
        for _ in range(3):
            taken = self._take(record, token, now, record_field(record.push_id, CLAIM).does_not_exist())
            if taken.state == "claimed":
                return taken
            data = self.deliveries.day(record.tenant_id, record.group_id, record.date).records.get(record.push_id)
            if data is None:
                return ClaimState("done", status="missing")
            if data.get(STATUS) != Status.planned.value:
                return ClaimState("done", status=data.get(STATUS))
            parts = int(data.get(PARTS_SENT) or 0)
            if data.get(CLAIM):
                claimed_at = data.get(CLAIMED_AT)
                if claimed_at is not None and from_micros(claimed_at) + self.lease > now:
                    return ClaimState("busy", data[CLAIM], parts)
                return ClaimState("stale", data[CLAIM], parts)
            # given back between our write and our read: try again
        return ClaimState("busy")

    def take_over(self, record: Delivery, stale: ClaimState, token: str, now: datetime) -> ClaimState:
        """Takes a stale claim over (for channels whose receiver drops a repeated idempotency key)."""
        return self._take(record, token, now, record_field(record.push_id, CLAIM) == stale.token)

    def _take(self, record: Delivery, token: str, now: datetime, condition) -> ClaimState:
        pid = record.push_id
        attempts = record_field(pid, "attempts")
        taken = self._update_planned(record, [record_field(pid, CLAIM).set(token),
                                              record_field(pid, CLAIMED_AT).set(micros(now)),
                                              attempts.set((attempts | 0) + 1),
                                              record_field(pid, "updated_at").set(micros(now))], condition)
        if taken is None:
            return ClaimState("busy")
        # Only a release after a transient failure sets parts_sent; without one no part has reached the group.
        return ClaimState("claimed", token, int(taken.get(PARTS_SENT) or 0))

    def finish(self, record: Delivery, token: str, status: Status, now: datetime, *, reason: str | None = None,
               error: str | None = None, message_ids: Iterable[str] = ()) -> bool:
        """Records the outcome and ends the claim in one conditional write; False when the claim was not ours.
        (Records handed to a WeCom owner enter the `awaiting_owner` index first, as their task:
        DeliveryRepository.await_owner.)"""
        ids = list(message_ids)
        actions = outcome_actions(record.push_id, status, now, reason=reason, error=error, message_ids=ids)
        actions += [record_field(record.push_id, CLAIM).remove(), record_field(record.push_id, CLAIMED_AT).remove()]
        return self._update_planned(record, actions, record_field(record.push_id, CLAIM) == token) is not None

    def finish_all(self, outcomes: Sequence[Outcome]) -> list[bool]:
        """`finish` for many records, 25 statements to a request (`execute_statements`); whether each claim was
        ours, in order. An outcome whose statement was refused (its condition, or a throttle) or whose request
        failed is written by `finish` alone, which tells a claim that is not ours from a record that, say, has
        message ids already. (A request that failed after DynamoDB applied it, a timeout, leaves its outcomes
        written once: `finish` then finds the claims gone and answers False for them.)"""
        statements = [(o, o.statement()) for o in outcomes]
        written = iter(execute_statements([(day_key(o.record.tenant_id, o.record.date, o.record.group_id), s)
                                           for o, s in statements if s is not None]))
        return [True if s is not None and next(written) else o.finish(self) for o, s in statements]

    def finish_on_page(self, outcomes: Sequence[Outcome]) -> None:
        """`finish` for many records, recorded on their claim token's outcome page
        (DeliveryRepository.record_on_pages): one item for a sender's outcomes under one token, billed by its
        size, instead of a write on each record's day. A record reads as its outcome while it is claimed with the
        token it was recorded under, as `finish` would have written it while the claim was ours. Outcomes whose
        page cannot be written are left to `finish_all`. Pages never bear on whether a push is sent again: a
        record is claimed, and its claim taken over, only where it reads `planned`."""
        by_token: dict[str, list[Outcome]] = defaultdict(list)
        for o in outcomes:
            by_token[o.token].append(o)
        for token, mine in by_token.items():
            try:
                self.deliveries.record_on_pages(token, [(o.record, o.fields()) for o in mine])
            except (PutError, UpdateError, BotoCoreError, ClientError):
                self.finish_all(mine)

    def release(self, record: Delivery, token: str, now: datetime, *, parts_sent: int, error: str) -> bool:
        """Gives the claim back after a transient failure, remembering how many parts already arrived."""
        pid = record.push_id
        return self._update_planned(record, [record_field(pid, CLAIM).remove(), record_field(pid, CLAIMED_AT).remove(),
                                             record_field(pid, PARTS_SENT).set(parts_sent),
                                             record_field(pid, "error").set(error),
                                             record_field(pid, "updated_at").set(micros(now))],
                                    record_field(pid, CLAIM) == token) is not None
