"""Planning and claiming one message's pushes: a `PushJob` is one queue message being sent.

A push is planned once: its delivery record lives in the group's day, keyed by push id, and one conditional write
spends the daily-cap slot (a customer group's quota just before, in its own idempotent write), writes the record
and *claims* it for this sender (the batch's claim token, the time). A record planned earlier and given back is
claimed again with a conditional write before the channel is called. Only the claim holder sends. A claim older
than its lease was left by a sender that stopped between the channel's send and the record: the push is recorded
`failed` with `unknown_after_crash` and not sent again, unless its channel's receiver drops a repeated key.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from qunyun.adapters.deliveries import GroupDay
from qunyun.adapters.delivery_claims import ClaimState
from qunyun.domain.briefs import BriefRenderError
from qunyun.domain.deliveries import Delivery, Status
from qunyun.domain.groups import Channel, Group
from qunyun.domain.quota import Push
from qunyun.domain.tenants import Tenant
from qunyun.services.briefs import Rendered
from qunyun.services.deliveries import plan_push, plan_together
from qunyun.services.push_content import PushContent
from qunyun.services.send_deps import SendDeps

# Receivers that drop a message whose idempotency key they have seen: safe to send again after a crash.
IDEMPOTENT_CHANNELS = frozenset({Channel.outbox.value, Channel.signed_webhook.value})
BUSY_RETRY_SECONDS = 30.0


class RetryLater(Exception):  # noqa: N818 - a signal to the queue, not an error of the caller
    """The message should come back from the queue, no sooner than `seconds`."""

    def __init__(self, seconds: float | None, reason: str):
        super().__init__(reason)
        self.seconds = seconds


def claim_lease(function_timeout_seconds: float) -> timedelta:
    """How long a claim protects a send in progress: past it, its holder cannot still be running."""
    return timedelta(seconds=2 * function_timeout_seconds)


@dataclass
class PushJob:
    tenant: Tenant
    content: PushContent
    day: date
    final: bool  # the queue's last receive: a transient failure now is the end
    deps: SendDeps
    now: datetime
    token: str  # the claim token (OutcomePages.token)

    @property
    def push(self) -> Push:
        return self.content.push

    def record(self, group: Group, status: Status, reason: str, error: str | None = None,
               begun: bool | None = None) -> None:
        """A record of a push that spent nothing (a skip, a render error); kept if the push has one already."""
        rec = Delivery.of(self.tenant.tenant_id, group.group_id, self.day, self.push, group.channel.value, status,
                          self.now, reason=reason)
        self.deps.deliveries.add(rec.model_copy(update={"error": error}), begun=begun)

    def ready(self, group: Group, broken: str | None) -> tuple[GroupDay, Delivery | None, Rendered] | None:
        """The group's day as read, the push's record on it if there is one (`planned`), and the group's text;
        None when the group gets nothing (recorded why)."""
        known = self.deps.batch.ahead.group_day(self.tenant.tenant_id, group.group_id, self.day)
        found = known.record(self.push.push_id)
        if found is not None and found.status is not Status.planned:
            return None  # sent, skipped, failed or handed to the owner already: a duplicate message
        missing = self.content.missing or self.content.refuses(group)
        if missing is not None:
            if found is None:
                self.record(group, Status.skipped, missing, begun=known.begun)
            else:  # the content went away, or the group ended, after the push was planned
                self.deps.deliveries.move(found, Status.skipped, self.now, reason=missing)
            return None
        if found is None and broken:
            self.record(group, Status.skipped, "channel_broken", broken, begun=known.begun)
            return None
        try:
            rendered = self.content.render(self, group)
        except BriefRenderError as e:
            if found is None:
                self.record(group, Status.failed, "render_error", e.reason, begun=known.begun)
            else:
                self.deps.deliveries.move(found, Status.failed, self.now, reason="render_error", error=e.reason)
            return None
        return known, found, rendered

    def plan(self, group: Group, known: GroupDay | None) -> tuple[Delivery, ClaimState | None] | None:
        """Plans the push for the group from its day as read (`known`; read again when None): its record and,
        when this attempt planned it, its claim; None when it was skipped (the daily cap, the quota)."""
        found, claimed = plan_push(self.tenant, group, self.push, self.day, self.content.later(group),
                                   deliveries=self.deps.deliveries, now=self.now, known=known, claim=self.token)
        if found.status is not Status.planned:
            return None
        return found, (ClaimState("claimed", self.token) if claimed else None)

    def plan_together(self, fresh: list[tuple[Group, GroupDay]]) -> dict[str, Delivery | None]:
        """`plan` for groups without a record of the push, written together where it simply goes
        (services/deliveries.py `plan_together`): group id → its record, planned and claimed, or None when it is
        to be planned alone after all, reading again; groups left out are planned alone from their day as read."""
        return plan_together(self.tenant, self.push, self.day,
                             [(group, known, self.content.later(group)) for group, known in fresh],
                             deliveries=self.deps.deliveries, now=self.now, claim=self.token)

    def prepare(self, group: Group, broken: str | None) -> tuple[Delivery, Rendered, ClaimState | None] | None:
        """The group's planned record, its text and, when this attempt planned it, its claim on it; None when
        the group gets nothing (recorded why)."""
        readied = self.ready(group, broken)
        if readied is None:
            return None
        known, found, rendered = readied
        if found is not None:
            return found, rendered, None
        planned = self.plan(group, known)
        return None if planned is None else (planned[0], rendered, planned[1])

    def claim(self, record: Delivery, channel: str) -> ClaimState | None:
        """Our claim on the record, or None when this attempt must not send (recorded or handled elsewhere)."""
        claims = self.deps.claims
        state = claims.claim(record, self.token, self.now)
        if state.state == "stale" and channel in IDEMPOTENT_CHANNELS:
            state = claims.take_over(record, state, self.token, self.now)
        if state.state == "stale":
            claims.finish(record, state.token, Status.failed, self.now, reason="unknown_after_crash",
                          error="a sender stopped after calling the channel and before recording the outcome")
            return None
        if state.state == "busy":
            raise RetryLater(BUSY_RETRY_SECONDS, "another sender holds the delivery")
        return state if state.state == "claimed" else None

    def transient(self, record: Delivery, result_code: str, parts: int) -> bool:
        """Gives a claim back after a transient failure; on the last receive records `failed` instead.
        True when the message should be retried."""
        if self.final:
            self.deps.claims.finish(record, self.token, Status.failed, self.now, reason="retries_exhausted",
                                    error=result_code)
            return False
        self.deps.claims.release(record, self.token, self.now, parts_sent=parts, error=result_code)
        return True

    def give_back(self, records: list[Delivery], error: str, parts_sent: int = 0) -> None:
        """Gives back claims on records that were never sent, with why."""
        for record in records:
            self.deps.claims.release(record, self.token, self.now, parts_sent=parts_sent, error=error)

    @contextmanager
    def before_send(self, records: list[Delivery], parts_sent: int = 0) -> Iterator[None]:
        """Gives the claims back if what comes before the channel call fails (reading a secret, say): nothing
        reached the groups, and a claim left behind would look to the retry like a sender stopped mid-send, which
        never sends again."""
        try:
            yield
        except Exception:
            self.give_back(records, "before_send", parts_sent)
            raise
