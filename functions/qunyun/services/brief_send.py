"""Sending pushes: one queue message (a group, or a WeCom owner's customer groups) rendered and delivered.

Briefs are the first kind; a farewell or an event reminder travels the same queue with its own `kind`, and the
same planning, claims, retries and records below apply to it (`PushContent` is what differs).

What is guaranteed, and why:

* **At most one delivery per (group, date, edition).** The push is planned once: its delivery record lives in
  the group's day, keyed by push id, and one conditional write spends the daily-cap slot (a customer group's
  quota just before, in its own idempotent write), writes the record and *claims* it for this sender (a fresh
  token, the time). A record planned earlier and given back is claimed again with a conditional write before
  the channel is called. Only the claim holder sends, and it records the outcome: a batch's sent pushes' outcomes
  together, as one item (the outcome page of the claim token they were claimed with: `SendDeps.finish_later`),
  when 25 wait and when the batch ends or fails; a record still claimed with the token reads as its outcome
  there, and the batch's next messages claim with a new token. A WeCom task's groups are recorded on their
  days, with the claim dropped in the same conditional write (PartiQL statements, 25 to a request), once the
  task exists. A duplicate SQS message, a second dispatcher run or a concurrent sender finds the record sent,
  skipped or claimed, and sends nothing.
* **A crash between the channel's send and the record** leaves the claim behind (and the claims of the sends
  whose outcomes were waiting with it: at most 25). Robots and bots have no idempotency key, so nobody can
  tell whether the group got the message: sending again could post it twice.
  After the claim's lease (longer than the function's timeout) the next attempt records the delivery `failed`
  with the reason `unknown_after_crash` and does not send: at most once, never twice. Channels whose receiver
  drops a repeated key (`outbox`, and `signed_webhook` bridges that honour the envelope's `key`) are sent again
  with the same key instead: the receiver sees it once. WeCom mass-send tasks are never created twice (the
  owner would be asked twice and the group's quota spent twice): those groups end `unknown_after_crash` too.
* **Transient failures** (rate limits, 5xx, timeouts) give the claim back, remembering how many parts of a
  split message arrived, and raise `RetryLater` with the platform's retry-after, so SQS hands the message back
  no earlier; the retry resumes after the parts already delivered. On the queue's last receive the record is
  `failed` with the reason `retries_exhausted`. **Permanent failures** mark the group's channel broken and
  record `failed`; there is no retry.
* **A render error** (a tenant's template) records that group `failed` with the reason `render_error` before
  any slot is spent; the other groups of a run are unaffected.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol, TypeVar
from zoneinfo import ZoneInfo

from qunyun.adapters.content import ContentRepository
from qunyun.adapters.deliveries import STATEMENTS_PER_REQUEST, DeliveryRepository, GroupDay
from qunyun.adapters.delivery_claims import ClaimState, DeliveryClaims, Outcome
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.points_ledger import PointsLedger
from qunyun.adapters.render import render
from qunyun.adapters.secrets import SecretStore, corp_ref
from qunyun.adapters.tenants import TenantRepository
from qunyun.channels import Message, SendResult, Target
from qunyun.domain.briefs import DIALECTS, Brief, BriefRenderError
from qunyun.domain.deliveries import Delivery, Status
from qunyun.domain.flash import Terms
from qunyun.domain.groups import Channel, Group, Kind
from qunyun.domain.groups import Status as GroupStatus
from qunyun.domain.notices import LABELS, compose_farewell
from qunyun.domain.push_messages import BriefMessage, FarewellMessage, PushMessage
from qunyun.domain.quota import Push
from qunyun.domain.tenants import Tenant
from qunyun.services.briefs import DayBoards, Rendered, render_brief
from qunyun.services.deliveries import plan_push, plan_together
from qunyun.services.quota import budget_of

# Receivers that drop a message whose idempotency key they have seen: safe to send again after a crash.
IDEMPOTENT_CHANNELS = frozenset({Channel.outbox.value, Channel.signed_webhook.value})
BUSY_RETRY_SECONDS = 30.0
T = TypeVar("T")


class RetryLater(Exception):  # noqa: N818 - a signal to the queue, not an error of the caller
    """The message should come back from the queue, no sooner than `seconds`."""

    def __init__(self, seconds: float | None, reason: str):
        super().__init__(reason)
        self.seconds = seconds


READ_AHEAD_GROUPS = 1000  # groups read ahead at once: a batch of owners' messages may name 100 × 2,000


@dataclass
class SendDeps:
    tenants: TenantRepository
    groups: GroupRepository
    content: ContentRepository
    deliveries: DeliveryRepository
    ledger: PointsLedger
    secrets: SecretStore
    claims: DeliveryClaims
    channel: Callable[[str], object]  # channel name → sender (qunyun.channels.channel)
    customer_groups: Callable[[], object]  # → WecomCustomerGroups
    clock: Callable[[], datetime]
    # Called after every channel call, before its outcome is recorded (tests inject a crash here).
    after_send: Callable[[str, object], None] = field(default=lambda group_id, result: None)
    memo: dict | None = None  # what one batch of messages has read (`for_batch`); one message's at least

    def for_batch(self) -> SendDeps:
        """These dependencies, keeping what one batch of messages (one invocation, seconds long) reads of
        tenants, briefs, templates and yesterday's boards, so a batch's messages of a tenant read each once.
        Nothing is kept past the batch: a brief changed before the next batch is what the next batch sends."""
        return dataclasses.replace(self, memo={})

    def read_ahead(self, messages: Iterable[PushMessage]) -> None:
        """Notes a batch's messages, in order, to read what they need of their groups ahead: when the first of
        them asks, it and the messages after it, up to READ_AHEAD_GROUPS groups, are read together (one
        BatchGetItem per tenant for the groups and one for their days, 100 keys a request) instead of one of
        each per message; the next message not read yet reads the next ones. A message takes what was read
        for it once (`groups_of`, `group_day`); a second look reads again, so a batch that pushes one group
        twice sees its own first write."""
        self.memo["~ahead"] = ahead = []
        for m in messages:
            ahead.append((m.tenant_id, m.date, list(m.group_ids)))

    def _read_from(self, tenant_id: str, day: date, group_ids: list[str]) -> None:
        """Reads ahead from the noted message that asks (and the ones before it, which were handled), when it is
        one of them."""
        ahead = self.memo.get("~ahead") or []
        try:
            at = ahead.index((tenant_id, day, group_ids))
        except ValueError:
            return  # not noted, or read already: it reads its own
        taken, n = at, 0
        while taken < len(ahead) and (n == 0 or n + len(ahead[taken][2]) <= READ_AHEAD_GROUPS):
            n += len(ahead[taken][2])
            taken += 1
        wanted: dict[str, set[tuple[str, date]]] = defaultdict(set)
        for t, d, ids in ahead[at:taken]:
            wanted[t].update((g, d) for g in ids)
        del ahead[:taken]
        for t, keys in wanted.items():
            ids = sorted({g for g, _ in keys})
            loaded = self.groups.get_many(t, ids)
            self.memo.update({("group", t, g): loaded.get(g) for g in ids})
            days = self.deliveries.days(t, sorted(keys), self._quota_periods(t, keys, loaded))
            self.memo.update({("day", t, g, d): found for (g, d), found in days.items()})

    def _quota_periods(self, tenant_id: str, keys: Iterable[tuple[str, date]],
                       loaded: dict[str, tuple[Group, str | None]]) -> dict[tuple[str, date], str]:
        """The quota period of each day read ahead of a group that has one (a WeCom customer group), so its
        mass sends are read with the day instead of in a request of its own when it is planned."""
        tenant = self.once(("tenant", tenant_id), lambda: self.tenants.get(tenant_id))
        if tenant is None:
            return {}
        periods = {(g, d): budget_of(tenant, loaded[g][0]).period_of(d) for g, d in keys if g in loaded}
        return {k: period for k, period in periods.items() if period is not None}

    def groups_of(self, tenant_id: str, day: date, group_ids: list[str]) -> dict[str, tuple[Group, str | None]]:
        """The groups (with why their channel is broken, if it is) of a message, as read ahead or read now."""
        if group_ids and ("group", tenant_id, group_ids[0]) not in self.memo:
            self._read_from(tenant_id, day, group_ids)
        ahead = {g: self.memo.pop(("group", tenant_id, g)) for g in dict.fromkeys(group_ids)
                 if ("group", tenant_id, g) in self.memo}
        rest = [g for g in group_ids if g not in ahead]
        loaded = self.groups.get_many(tenant_id, rest) if rest else {}
        return {g: v for g, v in {**ahead, **loaded}.items() if v is not None}

    def group_day(self, tenant_id: str, group_id: str, day: date) -> GroupDay:
        """The group's day, as read ahead or read now (after writing the outcomes waiting to be written, when one
        of them is the group's: a batch that pushes one group twice sees its own first outcome)."""
        if any((o.record.tenant_id, o.record.group_id, o.record.date) == (tenant_id, group_id, day)
               for o in self.memo.get("~outcomes", ())):
            self.finish_pending()
        return self.memo.pop(("day", tenant_id, group_id, day), None) or self.deliveries.day(tenant_id, group_id,
                                                                                               day)

    def finish_later(self, outcome: Outcome) -> None:
        """Records a sent push's outcome with the next ones, 25 to a request (`finish_pending`)."""
        pending = self.memo.setdefault("~outcomes", [])
        pending.append(outcome)
        if len(pending) >= STATEMENTS_PER_REQUEST:
            self.finish_pending()

    @contextmanager
    def outcomes_written(self) -> Iterator[None]:
        """Writes the outcomes still waiting when the block ends, by returning or by an exception (a RetryLater
        of another group of the batch, say). Not on what only a dying process raises (SystemExit): a crash writes
        nothing."""
        try:
            yield
        except Exception:
            self.finish_pending()
            raise
        self.finish_pending()

    def finish_pending(self) -> None:
        """Writes the outcomes waiting to be written on their claim token's outcome page (DeliveryClaims
        .finish_on_page: one item for the 25); the messages after get the next token. The batch's handler calls
        it before it returns, and on any exception: a process that dies before leaves those groups' claims
        behind (at most 25), and they are recorded `unknown_after_crash` as any send whose outcome was not
        recorded."""
        pending = self.memo.pop("~outcomes", None)
        if pending:
            self.memo["~pages"] = self.memo.get("~pages", 0) + 1
            self.claims.finish_on_page(pending)

    @property
    def token(self) -> str:
        """The claim token of the batch's next message: the batch's, with the number of the outcome page its
        outcomes go on (one more after each page written), so a record's claim names its outcome page."""
        return f"{self.once(('~token',), lambda: uuid.uuid4().hex)}.{self.memo.get('~pages', 0)}"

    def once(self, key: tuple, load: Callable[[], T]) -> T:
        """`load()` the first time `key` is asked for in this batch; what it gave after that. `send_message`
        gives every message a batch's memo (its own, when it is not part of one) before anything asks."""
        if key not in self.memo:
            self.memo[key] = load()
        return self.memo[key]


def delivery_key(tenant_id: str, group_id: str, day: date, edition: str) -> str:
    """The idempotency key a receiver can dedupe on: the same for every attempt of one push."""
    return f"brief:{day.isoformat()}:{edition}:{tenant_id}:{group_id}"


class PushContent(Protocol):
    """What one queue message sends: a brief edition, a farewell, one rung of an event's reminder. The sender
    plans, claims, delivers and records every kind the same way; the content says what and to whom."""

    push: Push
    missing: str | None  # why nothing can be sent (e.g. no_brief); None when there is something

    def refuses(self, group: Group) -> str | None:
        """Why this group must not get the push (e.g. it has ended), or None."""

    def render(self, job: _Job, group: Group) -> Rendered:
        """The group's text; raises BriefRenderError."""

    def later(self, group: Group) -> list[Push]:
        """Pushes known to come later the same day that outrank this one (their slots are kept)."""

    def key(self, tenant_id: str, group_id: str, day: date) -> str:
        """The receiver's idempotency key for this push to this group."""

    # Optional: `stale(group)` says why a queued message no longer applies to the group (an event reminder
    # whose event moved): the group is left out without a record, since the push may still come at its new time.


@dataclass
class BriefContent:
    brief: Brief | None
    edition: str
    day: date | None = None
    timezone: str = "UTC"  # the tenant's, for groups without their own

    @property
    def push(self) -> Push:
        return Push.brief(self.edition)

    @property
    def missing(self) -> str | None:
        return "no_brief" if self.brief is None else None

    def refuses(self, group: Group) -> str | None:
        return None if group.status is GroupStatus.active else "group_ended"

    def render(self, job: _Job, group: Group) -> Rendered:
        deps, tenant_id, dialect = job.deps, job.tenant.tenant_id, DIALECTS[group.channel]
        template = deps.once(("templates", tenant_id, self.edition),
                             lambda: deps.content.templates(tenant_id, self.edition)).get(dialect)
        before = self.brief.date - timedelta(days=1)
        boards = deps.once(("boards", tenant_id, before), lambda: DayBoards(deps.ledger, tenant_id, before, job.now))
        return render_brief(job.tenant, group, self.brief, ledger=deps.ledger, now=job.now, template=template,
                            boards=boards)

    def later(self, group: Group) -> list[Push]:
        """The evening brief after the morning one, and a flash group's farewell on the day it ends (it outranks
        every brief: a customer group whose quota leaves one push that day keeps it for the farewell)."""
        later = [Push.brief("evening")] if self.edition == "morning" and group.evening else []
        if group.kind is Kind.flash and group.ends_at is not None and self.day is not None:
            zone = ZoneInfo(group.effective_timezone(self.timezone))
            if group.ends_at.astimezone(zone).date() == self.day:
                later.append(Push.farewell())
        return later

    def key(self, tenant_id: str, group_id: str, day: date) -> str:
        return delivery_key(tenant_id, group_id, day, self.edition)


def brief_content(message: BriefMessage, tenant: Tenant, deps: SendDeps) -> BriefContent:
    edition, day = message.edition, message.date
    brief = deps.once(("brief", tenant.tenant_id, day, edition),
                      lambda: deps.content.brief(tenant.tenant_id, day, edition))
    return BriefContent(brief, edition, day=day, timezone=tenant.timezone)


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

    def render(self, job: _Job, group: Group) -> Rendered:
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


# Queue message kinds → what builds their content from the message. Farewells and reminders register theirs.
CONTENT: dict[str, Callable[[PushMessage, Tenant, SendDeps], PushContent]] = {"brief": brief_content,
                                                                             "farewell": farewell_content}


@dataclass
class _Job:
    tenant: Tenant
    content: PushContent
    day: date
    final: bool  # the queue's last receive: a transient failure now is the end
    deps: SendDeps
    now: datetime
    token: str  # the claim token (SendDeps.token)

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
        known = self.deps.group_day(self.tenant.tenant_id, group.group_id, self.day)
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


def _target(job: _Job, group: Group) -> Target:
    secrets = job.deps.secrets
    return Target(webhook_url=secrets.get(group.webhook_ref) if group.webhook_ref else None,
                  secret=secrets.get(group.secret_ref) if group.secret_ref else None,
                  chat_id=group.chat_id, tenant_id=group.tenant_id, group_id=group.group_id)


def _give_back(job: _Job, records: list[Delivery], error: str, parts_sent: int = 0) -> None:
    for record in records:
        job.deps.claims.release(record, job.token, job.now, parts_sent=parts_sent, error=error)


@contextmanager
def _before_send(job: _Job, records: list[Delivery], parts_sent: int = 0) -> Iterator[None]:
    """Gives the claims back if what comes before the channel call fails (reading a secret, say): nothing
    reached the groups, and a claim left behind would look to the retry like a sender stopped mid-send, which
    never sends again."""
    try:
        yield
    except Exception:
        _give_back(job, records, "before_send", parts_sent)
        raise


def _send_direct(job: _Job, group: Group, broken: str | None) -> None:
    prepared = job.prepare(group, broken)
    if prepared is None:
        return
    record, rendered, state = prepared
    state = state or job.claim(record, group.channel.value)
    if state is None:
        return
    with _before_send(job, [record], state.parts_sent):
        sender = job.deps.channel(group.channel.value)
        target = _target(job, group)
    message = Message(rendered.text, title=rendered.title,
                      key=job.content.key(job.tenant.tenant_id, group.group_id, job.day))
    result: SendResult = sender.send(target, message, first_part=state.parts_sent)
    job.deps.after_send(group.group_id, result)
    claims = job.deps.claims
    if result.ok:
        job.deps.finish_later(Outcome(record, job.token, Status.sent, job.now,
                                      message_ids=tuple(result.message_ids)))
    elif result.outcome.value == "transient":
        if job.transient(record, result.code, result.delivered_parts):
            raise RetryLater(result.retry_after, f"{group.channel.value} {result.code}: {result.detail}")
    else:
        job.deps.groups.mark_broken(group.tenant_id, group.group_id, result.code)
        claims.finish(record, job.token, Status.failed, job.now, reason="channel_broken",
                      error=f"{result.code}: {result.detail}")


def _corp(job: _Job):
    from qunyun.channels.wecom_customer_group import Corp

    corp_id = job.deps.secrets.get(corp_ref(job.deps.secrets, job.tenant.tenant_id, "corp_id"))
    secret = job.deps.secrets.get(corp_ref(job.deps.secrets, job.tenant.tenant_id, "corp_secret"))
    return Corp(corp_id, secret) if corp_id and secret else None


def _records(claimed: dict[str, list[tuple[Group, Delivery]]]) -> list[Delivery]:
    return [record for members in claimed.values() for _, record in members]


def _claim_all(job: _Job, loaded: list[tuple[Group, str | None]]) -> dict[str, list[tuple[Group, Delivery]]]:
    """The owner's groups this attempt may send to, by their text; all or, when one is busy, none. Nothing is
    sent before all are claimed, so the pushes new to their days are planned together (`_Job.plan_together`)."""
    readied = [(group, r) for group, broken in loaded if (r := job.ready(group, broken)) is not None]
    together = job.plan_together([(group, known) for group, (known, found, _) in readied if found is None])
    taken = {group.group_id: (rendered.text, together[group.group_id]) for group, (_, _, rendered) in readied
             if together.get(group.group_id) is not None}
    try:
        for group, (known, found, rendered) in readied:
            if group.group_id in taken:
                continue
            state = None
            if found is None:  # planned alone: from the day as read, or read again when the write was refused
                planned = job.plan(group, None if group.group_id in together else known)
                if planned is None:
                    continue
                found, state = planned
            if (state or job.claim(found, group.channel.value)) is not None:
                taken[group.group_id] = (rendered.text, found)
    except Exception as e:
        # Another sender holds one of the groups, or planning one failed: give back the claims taken so far,
        # which were never sent, or they would look like a crashed send to the retry.
        _give_back(job, [record for _, record in taken.values()], "busy" if isinstance(e, RetryLater) else
                   "before_send")
        raise
    claimed: dict[str, list[tuple[Group, Delivery]]] = defaultdict(list)
    for group, _ in readied:
        if group.group_id in taken:
            text, record = taken[group.group_id]
            claimed[text].append((group, record))
    return claimed


def _send_customer(job: _Job, owner: str, loaded: list[tuple[Group, str | None]]) -> None:
    """One add_msg_template per distinct text (WeCom sends one text to all of a task's groups), covering the
    owner's groups whose budget allowed the push; each group ends awaiting_owner with the task's msgid."""
    claimed = _claim_all(job, loaded)
    if not claimed:
        return
    with _before_send(job, _records(claimed)):
        corp = _corp(job)
    claims, retry = job.deps.claims, []
    for text, members in claimed.items():
        if corp is None:
            claims.finish_all([Outcome(record, job.token, Status.failed, job.now, reason="channel_broken",
                                       error="no WeCom corp credentials: store {tenant}/wecom/corp_id and "
                                             "corp_secret") for _, record in members])
            continue
        outcomes, retry_after = _hand_over(job, owner, corp, text, members)
        claims.finish_all(outcomes)  # each task's groups once it exists
        retry += [retry_after] if retry_after is not None else []
    if retry:
        raise RetryLater(max(retry), "WeCom asked to try the mass-send task later")


def _hand_over(job: _Job, owner: str, corp, text: str,
               members: list[tuple[Group, Delivery]]) -> tuple[list[Outcome], float | None]:
    """Creates one mass-send task for the members: their outcomes to record, or (their claims given back) the
    seconds WeCom asked to wait before trying again."""
    result = job.deps.customer_groups().add_msg_template(corp, owner, [g.chat_id for g, _ in members], text)
    job.deps.after_send(owner, result)
    if result.ok:
        refused = set(result.data.fail_list)
        handed = [record for group, record in members if group.chat_id not in refused]
        if handed:  # the task enters the follow-up job's index before its records say awaiting_owner
            job.deps.deliveries.await_owner(result.data.msgid, handed, job.now)
        return [Outcome(record, job.token, Status.failed, job.now, reason="wecom_refused",
                        error="WeCom refused the group (not the owner's, or dissolved)")
                if group.chat_id in refused else
                Outcome(record, job.token, Status.awaiting_owner, job.now, message_ids=(result.data.msgid,))
                for group, record in members], None
    if result.outcome.value == "transient":
        retried = all([job.transient(record, result.code, 0) for _, record in members])
        return [], (result.retry_after or 1.0) if retried else None
    return [Outcome(record, job.token, Status.failed, job.now, reason="channel_error",
                    error=f"{result.code}: {result.detail}") for _, record in members], None


def send_message(message: PushMessage, *, deps: SendDeps, final: bool = False) -> None:
    """Handles one queue message (domain/push_messages.py). Raises RetryLater when it should come back later."""
    if deps.memo is None:  # not part of a batch (`for_batch`): a batch of its own, its outcomes written at its end
        deps = deps.for_batch()
        with deps.outcomes_written():
            return send_message(message, deps=deps, final=final)
    tenant = deps.once(("tenant", message.tenant_id), lambda: deps.tenants.get(message.tenant_id))
    if tenant is None:
        return
    day = message.date
    content = CONTENT[message.kind](message, tenant, deps)
    job = _Job(tenant, content, day, final, deps, deps.clock(), deps.token)
    loaded = deps.groups_of(tenant.tenant_id, day, list(message.group_ids))
    groups = [loaded[g] for g in message.group_ids if g in loaded]
    stale = getattr(content, "stale", None)
    if stale is not None:  # a message the content no longer stands behind: nothing is sent or recorded
        groups = [(g, broken) for g, broken in groups if stale(g) is None]
    if message.owner is not None:
        _send_customer(job, message.owner, groups)
        return
    retry: RetryLater | None = None
    for group, broken in groups:
        try:
            _send_direct(job, group, broken)
        except RetryLater as e:
            retry = e
    if retry is not None:
        raise retry


def claim_lease(function_timeout_seconds: float) -> timedelta:
    """How long a claim protects a send in progress: past it, its holder cannot still be running."""
    return timedelta(seconds=2 * function_timeout_seconds)


# Kinds registered by their own modules (imported last: they build on the names above).
from qunyun.services import reminder_push  # noqa: E402, F401
